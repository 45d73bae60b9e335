"""Visual question answering on the grid scenes: blind, CNN+LSTM and FiLM networks, and a neuro-symbolic reader."""
