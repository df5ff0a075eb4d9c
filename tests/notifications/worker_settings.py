"""Settings of the Celery worker that the notifications stack tests start: the test settings,
with the tasks the worker queues (deliveries) sent to the test's private task queue, so no other
worker sharing the broker takes them and nothing is left behind for one."""

import os

from tests.settings import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ["GATEHOUSE_TEST_TASK_QUEUE"]
