"""`python -m webapp`: serve on HOST:PORT (default 127.0.0.1:5000) with the production server (webapp.serve)."""
from .serve import main

if __name__ == "__main__":
    main()
