"""Forecasting: history buffers, batched multi-horizon quantile models, model selection."""
