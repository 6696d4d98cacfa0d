//! Thing types and static thing groups end to end: boto3 through every operation with AWS's
//! errors (`tests/python/registry_flow.py`), the AWS CLI's own parameter forms (shorthand
//! properties, `--recursive`, `--undo-deprecate`, auto-pagination) and AWS's five-minute wait
//! before a deprecated type can be deleted, `tether device create --type --group`, and the
//! registry events of types, groups, memberships and the hierarchy seen by a `mosquitto_sub`.
//! What group policies do to a connected device is in `group_policies.rs`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{ChildStdout, Command};

use serde_json::Value;
use test_support::process::Tether;

use crate::support::{api_url, aws, aws_raw, start, subscriber, text, venv_bin};

const GROUP_ARN: &str = "arn:aws:iot:us-east-1:123456789012:thinggroup/";

#[test]
fn boto3_drives_every_thing_type_and_thing_group_operation() {
    let (dir, server) = start(&["--thing-type-delete-delay", "0"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/registry_flow.py");
    let out = Command::new(venv_bin().join("python"))
        .arg(&script)
        .arg(api_url(&server))
        .env("AWS_CONFIG_FILE", dir.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("the venv's python runs");
    let log = text(&out);
    assert!(
        out.status.success(),
        "registry flow failed:\n{log}\nserver log:\n{}",
        server.logs().join("\n")
    );
    assert!(log.contains("registry flow: 58 checks passed"), "{log}");
}

/// `aws …` that must fail; its standard error.
fn aws_error(server: &Tether, args: &[&str]) -> String {
    let out = aws_raw(server, "test", args);
    assert!(!out.status.success(), "aws {} succeeded", args.join(" "));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_aws_cli_manages_types_and_groups_with_its_own_parameter_forms() {
    let (_dir, server) = start(&[]);
    let created = aws(
        &server,
        &[
            "iot",
            "create-thing-type",
            "--thing-type-name",
            "LightBulb",
            "--thing-type-properties",
            "thingTypeDescription=light bulb type,searchableAttributes=wattage,model",
        ],
    );
    assert_eq!(
        created["thingTypeArn"],
        "arn:aws:iot:us-east-1:123456789012:thingtype/LightBulb"
    );
    let described = aws(
        &server,
        &[
            "iot",
            "describe-thing-type",
            "--thing-type-name",
            "LightBulb",
        ],
    );
    assert_eq!(
        described["thingTypeProperties"]["searchableAttributes"],
        serde_json::json!(["wattage", "model"])
    );
    aws(
        &server,
        &[
            "iot",
            "deprecate-thing-type",
            "--thing-type-name",
            "LightBulb",
        ],
    );
    // Without --thing-type-delete-delay, tether waits five minutes as AWS does.
    let early = aws_error(
        &server,
        &["iot", "delete-thing-type", "--thing-type-name", "LightBulb"],
    );
    assert!(
        early.contains("(InvalidRequestException)") && early.contains("five minutes"),
        "{early}"
    );
    aws(
        &server,
        &[
            "iot",
            "deprecate-thing-type",
            "--thing-type-name",
            "LightBulb",
            "--undo-deprecate",
        ],
    );
    aws(
        &server,
        &[
            "iot",
            "update-thing-type",
            "--thing-type-name",
            "LightBulb",
            "--thing-type-properties",
            "thingTypeDescription=bulbs",
        ],
    );
    let listed = aws(&server, &["iot", "list-thing-types"]);
    let bulb = &listed["thingTypes"][0];
    assert_eq!(bulb["thingTypeMetadata"]["deprecated"], false);
    assert_eq!(bulb["thingTypeProperties"]["thingTypeDescription"], "bulbs");

    aws(
        &server,
        &[
            "iot",
            "create-thing-group",
            "--thing-group-name",
            "LightBulbs",
        ],
    );
    for (name, parent) in [("RedLights", "LightBulbs"), ("RedLEDLights", "RedLights")] {
        aws(
            &server,
            &[
                "iot",
                "create-thing-group",
                "--thing-group-name",
                name,
                "--parent-group-name",
                parent,
                "--thing-group-properties",
                "thingGroupDescription=red,attributePayload={attributes={color=red}}",
            ],
        );
    }
    let red = aws(
        &server,
        &[
            "iot",
            "describe-thing-group",
            "--thing-group-name",
            "RedLEDLights",
        ],
    );
    assert_eq!(
        red["thingGroupProperties"]["attributePayload"]["attributes"]["color"],
        "red"
    );
    assert_eq!(
        red["thingGroupMetadata"]["rootToParentThingGroups"][1]["groupName"],
        "RedLights"
    );
    let version = aws(
        &server,
        &[
            "iot",
            "update-thing-group",
            "--thing-group-name",
            "RedLights",
            "--thing-group-properties",
            "thingGroupDescription=still red",
            "--expected-version",
            "1",
        ],
    );
    assert_eq!(version["version"], 2);
    let stale = aws_error(
        &server,
        &[
            "iot",
            "update-thing-group",
            "--thing-group-name",
            "RedLights",
            "--thing-group-properties",
            "thingGroupDescription=x",
            "--expected-version",
            "1",
        ],
    );
    assert!(stale.contains("(VersionConflictException)"), "{stale}");

    // The CLI follows nextToken itself with --page-size.
    let all = aws(&server, &["iot", "list-thing-groups", "--page-size", "1"]);
    let names: Vec<&str> = all["thingGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["groupName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["LightBulbs", "RedLEDLights", "RedLights"]);
    let children = aws(
        &server,
        &[
            "iot",
            "list-thing-groups",
            "--parent-group",
            "LightBulbs",
            "--no-recursive",
        ],
    );
    assert_eq!(children["thingGroups"].as_array().unwrap().len(), 1);

    aws(
        &server,
        &[
            "iot",
            "create-thing",
            "--thing-name",
            "MyLightBulb",
            "--thing-type-name",
            "LightBulb",
        ],
    );
    aws(
        &server,
        &[
            "iot",
            "add-thing-to-thing-group",
            "--thing-name",
            "MyLightBulb",
            "--thing-group-name",
            "RedLEDLights",
        ],
    );
    let things = aws(
        &server,
        &[
            "iot",
            "list-things-in-thing-group",
            "--thing-group-name",
            "LightBulbs",
            "--recursive",
        ],
    );
    assert_eq!(things["things"], serde_json::json!(["MyLightBulb"]));
    aws(
        &server,
        &[
            "iot",
            "update-thing-groups-for-thing",
            "--thing-name",
            "MyLightBulb",
            "--thing-groups-to-add",
            "RedLights",
            "--thing-groups-to-remove",
            "RedLEDLights",
        ],
    );
    let groups = aws(
        &server,
        &[
            "iot",
            "list-thing-groups-for-thing",
            "--thing-name",
            "MyLightBulb",
        ],
    );
    assert_eq!(
        groups["thingGroups"],
        serde_json::json!([
            {"groupName": "LightBulbs", "groupArn": format!("{GROUP_ARN}LightBulbs")},
            {"groupName": "RedLights", "groupArn": format!("{GROUP_ARN}RedLights")},
        ])
    );
    aws(
        &server,
        &[
            "iot",
            "remove-thing-from-thing-group",
            "--thing-name",
            "MyLightBulb",
            "--thing-group-arn",
            &format!("{GROUP_ARN}RedLights"),
        ],
    );
    let refused = aws_error(
        &server,
        &[
            "iot",
            "delete-thing-group",
            "--thing-group-name",
            "LightBulbs",
        ],
    );
    assert!(
        refused.contains(
            "(InvalidRequestException) when calling the DeleteThingGroup operation: Cannot \
             delete thing group : LightBulbs when there are still child groups attached to it"
        ),
        "{refused}"
    );
    for name in ["RedLEDLights", "RedLights", "LightBulbs"] {
        aws(
            &server,
            &["iot", "delete-thing-group", "--thing-group-name", name],
        );
    }
    assert_eq!(
        aws(&server, &["iot", "list-thing-groups"])["thingGroups"],
        serde_json::json!([])
    );
    let dynamic = aws_error(
        &server,
        &[
            "iot",
            "create-dynamic-thing-group",
            "--thing-group-name",
            "Dim",
            "--query-string",
            "attributes.wattage<10",
        ],
    );
    assert!(
        dynamic.contains("(InvalidRequestException)") && dynamic.contains("fleet indexing"),
        "{dynamic}"
    );
}

/// The next event the watcher printed (`-v`: a topic, a space, the payload), skipping its
/// `-d` packet lines.
fn next_event(out: &mut BufReader<ChildStdout>) -> (String, Value) {
    loop {
        let mut line = String::new();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "the watcher ended before the next event");
        if let Some((topic, payload)) = line.trim_end().split_once(' ')
            && topic.starts_with("$aws/events/")
        {
            return (topic.to_owned(), serde_json::from_str(payload).unwrap());
        }
    }
}

#[test]
fn registry_events_follow_types_groups_memberships_and_the_hierarchy() {
    let (_dir, server) = start(&["--thing-type-delete-delay", "0"]);
    let tls = server.demo_tls_args();
    let (_watcher, mut out) = subscriber(
        &tls,
        &[
            "-i",
            "registry-watcher",
            "-v",
            "-t",
            "$aws/events/thingType/#",
            "-t",
            "$aws/events/thingTypeAssociation/#",
            "-t",
            "$aws/events/thingGroup/#",
            "-t",
            "$aws/events/thingGroupMembership/#",
            "-t",
            "$aws/events/thingGroupHierarchy/#",
        ],
    );
    aws(
        &server,
        &[
            "iot",
            "update-event-configurations",
            "--event-configurations",
            r#"{"THING_TYPE":{"Enabled":true},"THING_TYPE_ASSOCIATION":{"Enabled":true},
                "THING_GROUP":{"Enabled":true},"THING_GROUP_MEMBERSHIP":{"Enabled":true},
                "THING_GROUP_HIERARCHY":{"Enabled":true}}"#,
        ],
    );
    let mut expect = |topic: &str| -> Value {
        let (got, payload) = next_event(&mut out);
        assert_eq!(got, topic);
        payload
    };

    let lamp = aws(
        &server,
        &[
            "iot",
            "create-thing-type",
            "--thing-type-name",
            "Lamp",
            "--thing-type-properties",
            "searchableAttributes=watts",
        ],
    );
    let created = expect("$aws/events/thingType/Lamp/created");
    assert_eq!(created["eventType"], "THING_TYPE_EVENT");
    assert_eq!(created["thingTypeId"], lamp["thingTypeId"]);
    assert_eq!(
        created["searchableAttributes"],
        serde_json::json!(["watts"])
    );
    assert_eq!(created["isDeprecated"], false);

    let thing = aws(
        &server,
        &[
            "iot",
            "create-thing",
            "--thing-name",
            "lamp-1",
            "--thing-type-name",
            "Lamp",
        ],
    );
    let associated = expect("$aws/events/thingTypeAssociation/thing/lamp-1/Lamp");
    assert_eq!(associated["eventType"], "THING_TYPE_ASSOCIATION_EVENT");
    assert_eq!(associated["operation"], "CREATED");
    assert_eq!(associated["thingId"], thing["thingId"]);

    let home = aws(
        &server,
        &["iot", "create-thing-group", "--thing-group-name", "home"],
    );
    let group_created = expect("$aws/events/thingGroup/home/created");
    assert_eq!(group_created["eventType"], "THING_GROUP_EVENT");
    assert_eq!(group_created["thingGroupId"], home["thingGroupId"]);
    assert_eq!(group_created["versionNumber"], 1);
    assert!(group_created["rootToParentThingGroups"].is_null());
    let kitchen = aws(
        &server,
        &[
            "iot",
            "create-thing-group",
            "--thing-group-name",
            "kitchen",
            "--parent-group-name",
            "home",
        ],
    );
    let child = expect("$aws/events/thingGroup/kitchen/created");
    assert_eq!(child["parentGroupName"], "home");
    assert_eq!(
        child["rootToParentThingGroups"],
        serde_json::json!([{"groupArn": format!("{GROUP_ARN}home"), "groupId": home["thingGroupId"]}])
    );
    let added =
        expect("$aws/events/thingGroupHierarchy/thingGroup/home/childThingGroup/kitchen/added");
    assert_eq!(added["eventType"], "THING_GROUP_HIERARCHY_EVENT");
    assert_eq!(added["operation"], "ADDED");
    assert_eq!(added["childGroupId"], kitchen["thingGroupId"]);

    aws(
        &server,
        &[
            "iot",
            "add-thing-to-thing-group",
            "--thing-name",
            "lamp-1",
            "--thing-group-name",
            "kitchen",
        ],
    );
    let joined = expect("$aws/events/thingGroupMembership/thingGroup/kitchen/thing/lamp-1/added");
    assert_eq!(joined["eventType"], "THING_GROUP_MEMBERSHIP_EVENT");
    assert_eq!(joined["groupArn"], format!("{GROUP_ARN}kitchen"));
    assert_eq!(joined["thingId"], thing["thingId"]);
    let membership_id = joined["membershipId"].as_str().unwrap().to_owned();
    aws(
        &server,
        &[
            "iot",
            "update-thing-group",
            "--thing-group-name",
            "kitchen",
            "--thing-group-properties",
            "thingGroupDescription=cooking",
        ],
    );
    let updated = expect("$aws/events/thingGroup/kitchen/updated");
    assert_eq!(
        (
            updated["versionNumber"].as_i64(),
            updated["description"].as_str()
        ),
        (Some(2), Some("cooking"))
    );
    aws(
        &server,
        &[
            "iot",
            "remove-thing-from-thing-group",
            "--thing-name",
            "lamp-1",
            "--thing-group-name",
            "kitchen",
        ],
    );
    let left = expect("$aws/events/thingGroupMembership/thingGroup/kitchen/thing/lamp-1/removed");
    assert_eq!(left["operation"], "REMOVED");
    assert_eq!(left["membershipId"], membership_id.as_str());
    aws(
        &server,
        &["iot", "delete-thing-group", "--thing-group-name", "kitchen"],
    );
    let removed =
        expect("$aws/events/thingGroupHierarchy/thingGroup/home/childThingGroup/kitchen/removed");
    assert_eq!(removed["operation"], "REMOVED");
    let gone = expect("$aws/events/thingGroup/kitchen/deleted");
    assert_eq!(gone["operation"], "DELETED");

    aws(
        &server,
        &[
            "iot",
            "update-thing",
            "--thing-name",
            "lamp-1",
            "--remove-thing-type",
        ],
    );
    let dissociated = expect("$aws/events/thingTypeAssociation/thing/lamp-1/Lamp");
    assert_eq!(dissociated["operation"], "DELETED");
    aws(
        &server,
        &["iot", "deprecate-thing-type", "--thing-type-name", "Lamp"],
    );
    let deprecated = expect("$aws/events/thingType/Lamp/updated");
    assert_eq!(deprecated["isDeprecated"], true);
    assert!(deprecated["deprecationDate"].as_i64().unwrap() > 1_700_000_000_000);
    aws(
        &server,
        &["iot", "delete-thing-type", "--thing-type-name", "Lamp"],
    );
    let type_deleted = expect("$aws/events/thingType/Lamp/deleted");
    assert_eq!(type_deleted["operation"], "DELETED");
}

#[test]
fn tether_device_create_gives_the_thing_a_type_and_groups() {
    let (_dir, server) = start(&[]);
    aws(
        &server,
        &["iot", "create-thing-type", "--thing-type-name", "Sensor"],
    );
    aws(
        &server,
        &["iot", "create-thing-group", "--thing-group-name", "plant"],
    );
    let device = |args: &[&str]| {
        Command::new(crate::support::tether())
            .args(["device", "--endpoint-url", &api_url(&server)])
            .args(["--data-dir", &server.data_dir().display().to_string()])
            .args(args)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_ENDPOINT_URL")
            .output()
            .unwrap()
    };
    let missing = device(&["create", "s-0", "--group", "nowhere"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("thing group nowhere"),
        "{}",
        text(&missing)
    );
    let untyped = device(&["create", "s-0", "--type", "Ghost"]);
    assert!(!untyped.status.success());
    assert!(
        text(&untyped).contains("ResourceNotFoundException"),
        "{}",
        text(&untyped)
    );
    assert_eq!(
        aws(&server, &["iot", "list-things"])["things"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["thingName"] == "s-0")
            .count(),
        0,
        "nothing was created"
    );
    let created = device(&["create", "s-1", "--type", "Sensor", "--group", "plant"]);
    assert!(created.status.success(), "{}", text(&created));
    assert!(
        text(&created).contains("Thing groups: plant"),
        "{}",
        text(&created)
    );
    let thing = aws(&server, &["iot", "describe-thing", "--thing-name", "s-1"]);
    assert_eq!(thing["thingTypeName"], "Sensor");
    let things = aws(
        &server,
        &[
            "iot",
            "list-things-in-thing-group",
            "--thing-group-name",
            "plant",
        ],
    );
    assert_eq!(things["things"], serde_json::json!(["s-1"]));
}
