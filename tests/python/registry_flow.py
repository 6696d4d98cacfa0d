"""boto3 against tether's thing types and static thing groups: every operation, AWS's errors.

Driven by crates/cli/tests/e2e/registry.rs, which starts `tether serve --thing-type-delete-delay 0`
and runs:

    python registry_flow.py API_URL

Thing types: create (idempotent, at most three searchable attributes), describe, list (prefix
filter, paginator), update, deprecate and undo, delete (only deprecated and unused), and what
they mean for CreateThing/UpdateThing. Thing groups: a three-level hierarchy, describe with its
ancestors, update with expectedVersion, list by parent (recursive or not), prefix and pages,
membership by name and by ARN, one group per hierarchy, things of a group recursively, groups of
a thing, UpdateThingGroupsForThing, delete rules, policies on groups (recursive listing, two at
most), and the refusal of dynamic groups. Exits non-zero on the first failed check; prints one
line per check.
"""

import datetime
import json
import sys

import boto3
import botocore.exceptions

REGION = "us-east-1"
ACCOUNT = "123456789012"
ALLOW_PUBLISH = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": "*"}],
    }
)

checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


def expect_error(call, code, status, what, contains=None):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        got_code = e.response["Error"]["Code"]
        got_status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        message = e.response["Error"].get("Message", "")
        check(
            got_code == code
            and got_status == status
            and (contains is None or contains in message),
            f"{what}: {code} {status} (got {got_code} {got_status}: {message})",
        )
        return
    raise AssertionError(f"{what}: expected {code}, the call succeeded")


def group_arn(name):
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/{name}"


def thing_types(iot):
    created = iot.create_thing_type(
        thingTypeName="LightBulb",
        thingTypeProperties={
            "thingTypeDescription": "light bulb type",
            "searchableAttributes": ["wattage", "model"],
        },
    )
    check(
        created["thingTypeArn"] == f"arn:aws:iot:{REGION}:{ACCOUNT}:thingtype/LightBulb"
        and len(created["thingTypeId"]) == 36,
        "CreateThingType answers name, ARN and id",
    )
    again = iot.create_thing_type(
        thingTypeName="LightBulb",
        thingTypeProperties={
            "thingTypeDescription": "light bulb type",
            "searchableAttributes": ["wattage", "model"],
        },
    )
    check(again["thingTypeId"] == created["thingTypeId"], "CreateThingType again is idempotent")
    expect_error(
        lambda: iot.create_thing_type(
            thingTypeName="LightBulb", thingTypeProperties={"thingTypeDescription": "other"}
        ),
        "ResourceAlreadyExistsException",
        409,
        "a different type of the same name",
    )
    expect_error(
        lambda: iot.create_thing_type(
            thingTypeName="Four",
            thingTypeProperties={"searchableAttributes": ["a", "b", "c", "d"]},
        ),
        "InvalidRequestException",
        400,
        "four searchable attributes",
        contains="at most 3",
    )
    described = iot.describe_thing_type(thingTypeName="LightBulb")
    metadata = described["thingTypeMetadata"]
    check(
        described["thingTypeProperties"]["searchableAttributes"] == ["wattage", "model"]
        and metadata["deprecated"] is False
        and isinstance(metadata["creationDate"], datetime.datetime)
        and "deprecationDate" not in metadata,
        "DescribeThingType has properties and metadata",
    )
    expect_error(
        lambda: iot.describe_thing_type(thingTypeName="Ghost"),
        "ResourceNotFoundException",
        404,
        "DescribeThingType of a missing type",
    )
    iot.create_thing_type(thingTypeName="LightStrip")
    iot.create_thing_type(thingTypeName="Switch")
    pages = list(iot.get_paginator("list_thing_types").paginate(PaginationConfig={"PageSize": 1}))
    names = [t["thingTypeName"] for p in pages for t in p["thingTypes"]]
    check(
        names == ["LightBulb", "LightStrip", "Switch"] and len(pages) == 3,
        f"ListThingTypes pages one type at a time ({names})",
    )
    prefixed = iot.list_thing_types(thingTypeName="Light")["thingTypes"]
    check(
        [t["thingTypeName"] for t in prefixed] == ["LightBulb", "LightStrip"],
        "ListThingTypes filters by name prefix",
    )
    iot.update_thing_type(
        thingTypeName="LightStrip",
        thingTypeProperties={"thingTypeDescription": "strips", "searchableAttributes": ["len"]},
    )
    strip = iot.describe_thing_type(thingTypeName="LightStrip")["thingTypeProperties"]
    check(
        strip["thingTypeDescription"] == "strips" and strip["searchableAttributes"] == ["len"],
        "UpdateThingType changes the properties",
    )

    expect_error(
        lambda: iot.create_thing(thingName="orphan", thingTypeName="Ghost"),
        "ResourceNotFoundException",
        404,
        "CreateThing with a type that does not exist",
    )
    many = {"attributes": {f"a{i}": "v" for i in range(4)}}
    expect_error(
        lambda: iot.create_thing(thingName="untyped", attributePayload=many),
        "InvalidRequestException",
        400,
        "four attributes without a type",
    )
    iot.create_thing(thingName="bulb-1", thingTypeName="LightBulb", attributePayload=many)
    check(
        iot.describe_thing(thingName="bulb-1")["thingTypeName"] == "LightBulb",
        "a typed thing may have more than three attributes",
    )
    iot.create_thing(thingName="switch-1", thingTypeName="Switch")

    iot.deprecate_thing_type(thingTypeName="LightBulb")
    metadata = iot.describe_thing_type(thingTypeName="LightBulb")["thingTypeMetadata"]
    check(
        metadata["deprecated"] is True
        and isinstance(metadata["deprecationDate"], datetime.datetime),
        "DeprecateThingType sets deprecated and its date",
    )
    expect_error(
        lambda: iot.create_thing(thingName="bulb-2", thingTypeName="LightBulb"),
        "InvalidRequestException",
        400,
        "CreateThing with a deprecated type",
        contains="depreated thing type:LightBulb",
    )
    expect_error(
        lambda: iot.update_thing(thingName="switch-1", thingTypeName="LightBulb"),
        "InvalidRequestException",
        400,
        "UpdateThing to a deprecated type",
    )
    iot.deprecate_thing_type(thingTypeName="LightBulb", undoDeprecate=True)
    check(
        iot.describe_thing_type(thingTypeName="LightBulb")["thingTypeMetadata"]["deprecated"]
        is False,
        "undoDeprecate lifts the deprecation",
    )
    iot.update_thing(thingName="switch-1", thingTypeName="LightBulb")
    expect_error(
        lambda: iot.delete_thing_type(thingTypeName="Switch"),
        "InvalidRequestException",
        400,
        "DeleteThingType of a type that is not deprecated",
        contains="deprecate it first",
    )
    iot.deprecate_thing_type(thingTypeName="LightBulb")
    expect_error(
        lambda: iot.delete_thing_type(thingTypeName="LightBulb"),
        "InvalidRequestException",
        400,
        "DeleteThingType of a type things still use",
        contains="bulb-1",
    )
    iot.deprecate_thing_type(thingTypeName="Switch")
    iot.delete_thing_type(thingTypeName="Switch")
    expect_error(
        lambda: iot.describe_thing_type(thingTypeName="Switch"),
        "ResourceNotFoundException",
        404,
        "a deleted type is gone",
    )
    expect_error(
        lambda: iot.delete_thing_type(thingTypeName="Switch"),
        "ResourceNotFoundException",
        404,
        "DeleteThingType of a missing type",
    )


def thing_groups(iot):
    site = iot.create_thing_group(thingGroupName="site")
    check(
        site["thingGroupArn"] == group_arn("site") and len(site["thingGroupId"]) == 36,
        "CreateThingGroup answers name, ARN and id",
    )
    floor = iot.create_thing_group(
        thingGroupName="floor1",
        parentGroupName="site",
        thingGroupProperties={
            "thingGroupDescription": "first floor",
            "attributePayload": {"attributes": {"level": "1"}},
        },
    )
    iot.create_thing_group(thingGroupName="room1", parentGroupName="floor1")
    iot.create_thing_group(thingGroupName="room2", parentGroupName="floor1")
    iot.create_thing_group(thingGroupName="depot")
    again = iot.create_thing_group(
        thingGroupName="floor1",
        parentGroupName="site",
        thingGroupProperties={
            "thingGroupDescription": "first floor",
            "attributePayload": {"attributes": {"level": "1"}},
        },
    )
    check(again["thingGroupId"] == floor["thingGroupId"], "CreateThingGroup again is idempotent")
    expect_error(
        lambda: iot.create_thing_group(thingGroupName="floor1"),
        "ResourceAlreadyExistsException",
        409,
        "a different group of the same name",
    )
    expect_error(
        lambda: iot.create_thing_group(thingGroupName="lost", parentGroupName="ghost"),
        "InvalidRequestException",
        400,
        "a parent that does not exist",
    )

    room = iot.describe_thing_group(thingGroupName="room1")
    metadata = room["thingGroupMetadata"]
    check(
        metadata["parentGroupName"] == "floor1"
        and [g["groupName"] for g in metadata["rootToParentThingGroups"]] == ["site", "floor1"]
        and metadata["rootToParentThingGroups"][0]["groupArn"] == group_arn("site")
        and room["version"] == 1,
        "DescribeThingGroup lists the ancestors from the root",
    )
    described = iot.describe_thing_group(thingGroupName="floor1")["thingGroupProperties"]
    check(
        described["thingGroupDescription"] == "first floor"
        and described["attributePayload"]["attributes"] == {"level": "1"},
        "DescribeThingGroup has the properties",
    )
    expect_error(
        lambda: iot.describe_thing_group(thingGroupName="ghost"),
        "ResourceNotFoundException",
        404,
        "DescribeThingGroup of a missing group",
    )
    updated = iot.update_thing_group(
        thingGroupName="floor1",
        thingGroupProperties={"attributePayload": {"attributes": {"wing": "east"}, "merge": True}},
        expectedVersion=1,
    )
    check(updated["version"] == 2, "UpdateThingGroup answers the new version")
    attributes = iot.describe_thing_group(thingGroupName="floor1")["thingGroupProperties"][
        "attributePayload"
    ]["attributes"]
    check(attributes == {"level": "1", "wing": "east"}, "UpdateThingGroup merges attributes")
    expect_error(
        lambda: iot.update_thing_group(
            thingGroupName="floor1", thingGroupProperties={}, expectedVersion=1
        ),
        "VersionConflictException",
        409,
        "UpdateThingGroup with a stale expectedVersion",
    )

    def listed(**kwargs):
        pages = iot.get_paginator("list_thing_groups").paginate(
            PaginationConfig={"PageSize": 2}, **kwargs
        )
        return [g["groupName"] for p in pages for g in p["thingGroups"]]

    check(
        listed() == ["depot", "floor1", "room1", "room2", "site"],
        "ListThingGroups lists every group across pages",
    )
    check(listed(parentGroup="site") == ["floor1", "room1", "room2"], "every descendant of a parent")
    check(listed(parentGroup="site", recursive=False) == ["floor1"], "the direct children only")
    check(listed(recursive=False) == ["depot", "site"], "root groups only")
    check(listed(namePrefixFilter="room") == ["room1", "room2"], "ListThingGroups by name prefix")
    expect_error(
        lambda: iot.list_thing_groups(parentGroup="ghost"),
        "ResourceNotFoundException",
        404,
        "ListThingGroups under a missing parent",
    )

    for name in ["t1", "t2", "t3"]:
        iot.create_thing(thingName=name)
    iot.add_thing_to_thing_group(thingGroupName="room1", thingName="t1")
    iot.add_thing_to_thing_group(
        thingGroupArn=group_arn("room2"),
        thingArn=f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/t2",
    )
    iot.add_thing_to_thing_group(thingGroupName="floor1", thingName="t3")
    iot.add_thing_to_thing_group(thingGroupName="depot", thingName="t1")
    iot.add_thing_to_thing_group(thingGroupName="room1", thingName="t1")
    expect_error(
        lambda: iot.add_thing_to_thing_group(thingGroupName="site", thingName="t1"),
        "InvalidRequestException",
        400,
        "a second group of the same hierarchy",
        contains="same hierarchy",
    )
    expect_error(
        lambda: iot.add_thing_to_thing_group(thingGroupName="ghost", thingName="t1"),
        "ResourceNotFoundException",
        404,
        "AddThingToThingGroup to a missing group",
    )
    expect_error(
        lambda: iot.add_thing_to_thing_group(thingGroupName="room1", thingName="ghost"),
        "ResourceNotFoundException",
        404,
        "AddThingToThingGroup of a missing thing",
    )
    expect_error(
        lambda: iot.add_thing_to_thing_group(thingName="t1"),
        "InvalidRequestException",
        400,
        "AddThingToThingGroup without a group",
    )

    def things_in(group, **kwargs):
        pages = iot.get_paginator("list_things_in_thing_group").paginate(
            thingGroupName=group, PaginationConfig={"PageSize": 1}, **kwargs
        )
        return [t for p in pages for t in p["things"]]

    check(things_in("site", recursive=True) == ["t1", "t2", "t3"], "things of a group recursively")
    check(things_in("site") == [], "things of the group itself only")
    check(things_in("floor1") == ["t3"], "things of a middle group")
    groups = iot.list_thing_groups_for_thing(thingName="t1")["thingGroups"]
    check(
        [g["groupName"] for g in groups] == ["depot", "floor1", "room1", "site"]
        and groups[0]["groupArn"] == group_arn("depot"),
        "ListThingGroupsForThing includes the parents of its groups",
    )
    iot.update_thing_groups_for_thing(
        thingName="t1", thingGroupsToAdd=["room2"], thingGroupsToRemove=["room1", "depot"]
    )
    check(
        [g["groupName"] for g in iot.list_thing_groups_for_thing(thingName="t1")["thingGroups"]]
        == ["floor1", "room2", "site"],
        "UpdateThingGroupsForThing moves a thing within a hierarchy",
    )
    expect_error(
        lambda: iot.update_thing_groups_for_thing(
            thingName="t1", thingGroupsToAdd=["ghost"], thingGroupsToRemove=["room2"]
        ),
        "ResourceNotFoundException",
        404,
        "UpdateThingGroupsForThing with a missing group changes nothing",
    )
    check(things_in("room2") == ["t1", "t2"], "the failed update left the memberships alone")
    iot.remove_thing_from_thing_group(
        thingGroupArn=group_arn("room2"), thingArn=f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/t2"
    )
    iot.remove_thing_from_thing_group(thingGroupName="room2", thingName="t2")
    check(things_in("room2") == ["t1"], "RemoveThingFromThingGroup by ARN")

    iot.create_policy(policyName="site-policy", policyDocument=ALLOW_PUBLISH)
    iot.create_policy(policyName="room-a", policyDocument=ALLOW_PUBLISH)
    iot.create_policy(policyName="room-b", policyDocument=ALLOW_PUBLISH)
    iot.create_policy(policyName="room-c", policyDocument=ALLOW_PUBLISH)
    iot.attach_policy(policyName="site-policy", target=group_arn("site"))
    iot.attach_policy(policyName="room-a", target=group_arn("room2"))
    iot.attach_policy(policyName="room-b", target=group_arn("room2"))
    expect_error(
        lambda: iot.attach_policy(policyName="room-c", target=group_arn("room2")),
        "LimitExceededException",
        410,
        "a third policy on a group",
    )
    expect_error(
        lambda: iot.attach_policy(policyName="room-c", target=group_arn("ghost")),
        "ResourceNotFoundException",
        404,
        "AttachPolicy to a missing group",
    )
    direct = iot.list_attached_policies(target=group_arn("room2"))["policies"]
    check([p["policyName"] for p in direct] == ["room-a", "room-b"], "a group's own policies")
    inherited = iot.list_attached_policies(target=group_arn("room2"), recursive=True)["policies"]
    check(
        [p["policyName"] for p in inherited] == ["room-a", "room-b", "site-policy"],
        "ListAttachedPolicies recursive adds the ancestors' policies",
    )
    targets = iot.list_targets_for_policy(policyName="site-policy")["targets"]
    check(targets == [group_arn("site")], "ListTargetsForPolicy names the group")

    expect_error(
        lambda: iot.delete_thing_group(thingGroupName="floor1"),
        "InvalidRequestException",
        400,
        "DeleteThingGroup with child groups",
        contains="Cannot delete thing group : floor1 when there are still child groups",
    )
    expect_error(
        lambda: iot.delete_thing_group(thingGroupName="room2", expectedVersion=7),
        "VersionConflictException",
        409,
        "DeleteThingGroup with a stale expectedVersion",
    )
    iot.delete_thing_group(thingGroupName="room2", expectedVersion=1)
    check(
        iot.list_attached_policies(target=group_arn("site"))["policies"] != []
        and iot.list_targets_for_policy(policyName="room-a")["targets"] == [],
        "a deleted group's policies are detached",
    )
    iot.delete_policy(policyName="room-a")
    iot.delete_thing_group(thingGroupName="room2")
    check(
        "room2" not in [g["groupName"] for g in iot.list_thing_groups()["thingGroups"]],
        "DeleteThingGroup of a missing group succeeds",
    )
    expect_error(
        lambda: iot.create_dynamic_thing_group(
            thingGroupName="dynamic", queryString="attributes.level:1"
        ),
        "InvalidRequestException",
        400,
        "dynamic thing groups are refused",
        contains="fleet indexing",
    )


def main():
    endpoint = sys.argv[1]
    iot = boto3.client(
        "iot",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    thing_types(iot)
    thing_groups(iot)
    print(f"registry flow: {checks} checks passed", flush=True)


if __name__ == "__main__":
    main()
