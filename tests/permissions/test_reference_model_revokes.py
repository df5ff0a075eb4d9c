"""The engine against the brute-force reference model (test_reference_model.py) after random
revokes, membership removals, role edits and deactivations: every check agrees at once.

A file of its own so that pytest-xdist (`--dist loadfile`) runs it beside the cold-and-warm test
rather than after it: each is several minutes of CI's two workers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from permissions.core import services

from .test_reference_model import COMMON, GROUPS, USERS, assert_engine_agrees, build, tear_down, worlds

mutations = st.lists(
    st.one_of(
        st.tuples(st.just("revoke"), st.integers(0, 7)),
        st.tuples(st.just("leave"), st.integers(0, GROUPS - 1), st.integers(0, USERS - 1)),
        st.tuples(st.just("strip"), st.integers(0, 5)),
        st.tuples(st.just("orphan"), st.integers(0, 5)),
        st.tuples(st.just("deactivate"), st.integers(0, USERS - 1)),
        st.tuples(st.just("delete_role"), st.integers(0, 5)),
        st.tuples(st.just("delete_group"), st.integers(0, GROUPS - 1)),
    ),
    min_size=1,
    max_size=4,
)


@COMMON
@given(world=worlds(), changes=mutations)
def test_after_any_revoke_every_check_agrees_with_the_reference_at_once(codes, world, changes):
    built = build(world)
    deleted_roles: set[int] = set()
    deleted_groups: set[int] = set()
    try:
        assert_engine_agrees(world, built)  # every answer cached
        for change in changes:
            match change:
                case ("revoke", i) if i < len(built.assignments) and i not in world.revoked:
                    services.revoke_assignment(actor_id=None, assignment_id=built.assignments[i].id)
                    world.revoked.add(i)
                case ("leave", g, u) if g not in deleted_groups:
                    services.remove_group_member(actor_id=None, group_id=built.groups[g].id, user_id=built.users[u])
                    world.members[g] = world.members[g] - {u}
                case ("strip", r) if r < len(world.roles) and r not in deleted_roles:
                    services.update_role(actor_id=None, role_id=built.roles[r].id, permissions=[])
                    world.roles[r] = (frozenset(), world.roles[r][1])
                case ("orphan", r) if r < len(world.roles) and r not in deleted_roles:
                    services.update_role(actor_id=None, role_id=built.roles[r].id, parents=[])
                    world.roles[r] = (world.roles[r][0], frozenset())
                case ("deactivate", u):
                    services.user_deactivation_record(user_id=built.users[u])
                    world.deactivated = world.deactivated | {u}
                case ("delete_role", r) if r < len(world.roles) and r not in deleted_roles:
                    services.delete_role(actor_id=None, role_id=built.roles[r].id)
                    deleted_roles.add(r)
                    world.roles = [(own, parents - {r}) for own, parents in world.roles]
                    world.roles[r] = (frozenset(), frozenset())
                    world.revoked |= {i for i, a in enumerate(world.assignments) if a[0] == r}
                case ("delete_group", g) if g not in deleted_groups:
                    services.delete_group(actor_id=None, group_id=built.groups[g].id)
                    deleted_groups.add(g)
                    world.members[g] = frozenset()
                    world.revoked |= {i for i, a in enumerate(world.assignments) if a[1] == ("group", g)}
                case _:
                    continue
            assert_engine_agrees(world, built)
    finally:
        tear_down()
