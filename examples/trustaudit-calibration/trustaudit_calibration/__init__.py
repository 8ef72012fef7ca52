"""Example trustaudit plug-in: the ``calibration.ece`` check (see README.md)."""

from trustaudit_calibration.check import CalibrationCheck, CalibrationParams, expected_calibration_error

__all__ = ["CalibrationCheck", "CalibrationParams", "expected_calibration_error"]
__version__ = "0.1.0"
