"""Pipeline inspection and forecasting: deal risk models, inspection, forecasts, accuracy."""
