"""Left for notifications/admin.py only, which imports `deliveries_retry` from here while another
branch changes it. The writes of this service now live by job: sending.py, delivery.py, inbox.py,
preferences.py (issue 18 item 2). Delete this module once admin.py imports
`notifications.core.delivery`."""

from .delivery import deliveries_retry

__all__ = ["deliveries_retry"]
