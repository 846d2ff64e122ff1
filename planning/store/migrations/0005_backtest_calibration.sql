-- Calibrated forecast ranges: the model's own P10/P90 and the conformal margin that widened them.

ALTER TABLE forecast_backtests ADD COLUMN raw_p10_cents BIGINT;   -- the simulation's own P10
ALTER TABLE forecast_backtests ADD COLUMN raw_p90_cents BIGINT;   -- the simulation's own P90
ALTER TABLE forecast_backtests ADD COLUMN interval_margin DOUBLE; -- widening, in range widths
ALTER TABLE forecast_backtests ADD COLUMN calibration_forecasts BIGINT; -- earlier forecasts used
