"""The map: layers, markers and the Folium page."""
