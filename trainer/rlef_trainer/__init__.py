"""RLEF trainer: PPO on execution feedback, rollouts, evaluation and ONNX export."""

__version__ = "0.1.0"
