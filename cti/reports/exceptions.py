"""Why a report cannot be given, each with a stable ``error_id`` the HTTP edge answers with."""

from __future__ import annotations


class ReportError(Exception):
    """Base of every report error."""

    error_id = "report.error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidReportRequest(ReportError, ValueError):
    """A bound, time zone, threshold or cursor that cannot be understood (422)."""

    error_id = "report.invalid"


class InvalidRange(InvalidReportRequest):
    """``to`` is not later than ``from``, or a bound is not a date or time (422)."""

    error_id = "report.invalid_range"


class RangeTooLong(InvalidReportRequest):
    """The range is longer than ``CTI_REPORTS_MAX_DAYS`` (422)."""

    error_id = "report.range_too_long"


class UnknownTimeZone(InvalidReportRequest):
    """The time zone is not an IANA name such as ``Europe/Moscow`` (422)."""

    error_id = "report.invalid_timezone"


class UnsupportedServiceLevel(InvalidReportRequest):
    """The service-level threshold is not one the roll-ups keep (422)."""

    error_id = "report.invalid_service_level"


class ReportTimeout(ReportError):
    """The database did not finish the report in time; it was stopped (503)."""

    error_id = "report.timeout"
