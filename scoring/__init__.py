"""The paper's scoring method: inputs -> indicators -> levels -> scenarios."""
from ._errors import InputError, MethodError
from .engine import evaluate_inputs, evaluate_records, load_expert_judgments
from .method import Method, load_method

__all__ = ["InputError", "MethodError", "Method", "load_method", "evaluate_inputs",
           "evaluate_records", "load_expert_judgments"]
