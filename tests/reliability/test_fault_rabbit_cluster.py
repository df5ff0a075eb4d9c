"""A RabbitMQ cluster losing a node (issue 22): the event queues are quorum queues.

Three RabbitMQ nodes of the test's own (tests/reliability/faults.py, RabbitCluster: node names,
AMQP and distribution ports, data and logs apart, one Erlang cookie, no plugins) are joined into a
cluster on loopback. A real gunicorn, `manage.py relay_outbox` and `celery worker` get every node's
URL (kombu's failover list, the first node first) and GATEHOUSE_EVENT_QUEUE_TYPE=quorum. While
users register, the node that leads the probe consumer's queue, as the cluster reports it, is
SIGKILLed (its whole process group, the beam included). Every registration succeeds, the
remaining two nodes elect a new leader, the clients move to them, and every committed event is
consumed exactly once in effect: duplicates (a message whose ack or confirm the dead node took
with it) are absorbed by the inbox, and none is lost.

The test prints the requests made / succeeded, the events published / consumed once / consumed
twice / lost, and the duplicate deliveries the inbox suppressed. The machine's own RabbitMQ (5672)
is never touched, and still answers at the end.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter

import pytest

from project.events.models import OutboxEvent
from project.events.topology import queue_name
from tests.probe.handlers import CONSUMER as PROBE
from tests.support.broker import wait_for
from tests.support.factories import PASSWORD
from users.interface import USER_REGISTERED

from .faults import RabbitCluster, call, consumption, machine_services_answer

pytestmark = [pytest.mark.stack, pytest.mark.serial, pytest.mark.django_db(transaction=True)]

# Seconds of registrations before the kill, and after it.
BEFORE_KILL = 3.0
AFTER_KILL = 6.0


@pytest.fixture
def rabbit(tmp_path):
    cluster = RabbitCluster(tmp_path)
    try:
        took = cluster.start()
        print(f"\nthree-node RabbitMQ cluster up in {took:.1f}s: {', '.join(node.name for node in cluster.nodes)}")
        yield cluster
    finally:
        cluster.close()  # every node, even when starting one failed
    assert machine_services_answer()["rabbitmq:5672"], "the machine's own RabbitMQ must still answer"


def duplicates_suppressed(processes, event_ids: set[str]) -> int:
    """Deliveries of these events that a consumer's inbox found already processed (its log line
    `duplicate event <id> for <consumer> ignored`)."""
    pattern = re.compile(r"duplicate event ([0-9a-f-]{36}) for " + re.escape(PROBE))
    return sum(1 for process in processes for found in pattern.findall(process.output()) if found in event_ids)


def test_the_node_leading_the_event_queue_killed_during_a_registration_burst_loses_no_event(rabbit, stack):
    web = stack.web()
    stack.relay()
    worker = stack.worker()
    queue = queue_name(PROBE)
    leader = rabbit.leader_of(queue)
    survivors = [node for node in rabbit.nodes if node is not leader]

    statuses: Counter = Counter()
    emails: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def register():
        while not stop.is_set():
            email = f"cluster-{uuid.uuid4().hex[:12]}@example.com"
            status, _, _ = call(web, "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD})
            with lock:
                statuses[status] += 1
                if status == 201:
                    emails.append(email)

    threads = [threading.Thread(target=register) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(BEFORE_KILL)
        before_kill = statuses[201]
        leader.kill()  # SIGKILL, beam and all: the node crashes mid-burst
        killed_at = time.monotonic()
        new_leader = wait_for(
            lambda: _leader_among(rabbit, queue, survivors), timeout=60, what="a new leader on the surviving nodes"
        )
        elected_after = time.monotonic() - killed_at
        time.sleep(max(0.0, AFTER_KILL - elected_after))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    after_kill = statuses[201] - before_kill

    made = sum(statuses.values())
    registered = list(
        OutboxEvent.objects.filter(type=USER_REGISTERED, payload__email__in=emails).values_list("id", flat=True)
    )
    wait_for(lambda: consumption(registered)["lost"] == 0, timeout=120, what="every registration to be consumed")
    time.sleep(1.0)  # the time a duplicate would need to show up
    figures = consumption(registered)
    published = OutboxEvent.objects.filter(id__in=registered, published_at__isnull=False).count()
    suppressed = duplicates_suppressed([worker], {str(event_id) for event_id in registered})
    print(
        f"\nRabbitMQ node {leader.name}, leader of {queue}, SIGKILLed during a registration burst; "
        f"{new_leader.name} leads it {elected_after:.1f}s later\n"
        f"requests made {made}, succeeded {statuses[201]} ({after_kill} after the kill), statuses {dict(statuses)}\n"
        f"users.user_registered events: published {published}, consumed once {figures['seen once']}, "
        f"consumed twice {figures['seen twice']}, duplicates suppressed by the inbox {suppressed}, "
        f"lost {figures['lost']} (of {figures['expected']})"
    )
    assert made >= 10 and after_kill >= 3
    assert set(statuses) == {201}, statuses
    assert len(registered) == len(emails) == statuses[201]  # one committed event per registration
    assert published == len(registered)
    assert figures == {"expected": len(registered), "seen once": len(registered), "seen twice": 0, "lost": 0}


def _leader_among(cluster: RabbitCluster, queue: str, survivors: list):
    try:
        leader = cluster.leader_of(queue, asking=survivors[0])
    except (RuntimeError, ValueError, AssertionError):  # no leader yet: the election is on
        return None
    return leader if leader in survivors else None
