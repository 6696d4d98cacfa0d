//! Thing groups and thing types through the store's public API: the policies a thing's groups
//! pass on to the broker's connection lookup (order, inheritance, removal), policy attachment
//! to groups, thing types on things, and the registry version every change moves.

use super::*;

fn group_arn(name: &str) -> String {
    format!("arn:aws:iot:us-east-1:{ACCOUNT}:thinggroup/{name}")
}

fn make_group(s: &mut Store, name: &str, parent: Option<&str>) {
    let new = NewThingGroup {
        name: name.into(),
        parent: parent.map(str::to_owned),
        ..Default::default()
    };
    let mut seed = [0x5a; 16];
    for (i, b) in name.bytes().enumerate() {
        seed[i % 16] ^= b.rotate_left(i as u32);
    }
    s.create_thing_group(&new, seed, NOW).unwrap();
}

/// A certificate attached to thing `dev`, which is in group `leaf` of `root ─ mid ─ leaf`.
fn device_in_hierarchy() -> (Store, String) {
    let mut s = mem();
    s.register_certificate(&new_cert(1, CertificateStatus::Active), NOW)
        .unwrap();
    s.create_thing(&new_thing("dev"), [1; 16], NOW).unwrap();
    s.attach_thing_principal("dev", &cert_arn(&cert_id(1)), false)
        .unwrap();
    make_group(&mut s, "root", None);
    make_group(&mut s, "mid", Some("root"));
    make_group(&mut s, "leaf", Some("mid"));
    s.add_thing_to_thing_group("leaf", "dev", [2; 16], NOW)
        .unwrap();
    (s, cert_id(1))
}

/// `(group, policy)` pairs the connection lookup gives thing `dev`.
fn inherited(s: &Store, id: &str) -> Vec<(String, String)> {
    let auth = s.certificate_for_connection(id).unwrap().unwrap();
    let thing = auth.things.iter().find(|t| t.name == "dev").unwrap();
    thing
        .group_policies
        .iter()
        .map(|p| (p.group.clone(), p.policy.name.clone()))
        .collect()
}

#[test]
fn group_policies_reach_the_connection_lookup_from_every_ancestor() {
    let (mut s, id) = device_in_hierarchy();
    assert!(inherited(&s, &id).is_empty());
    for policy in ["a", "b", "c", "d", "cert-too"] {
        s.create_policy(policy, &format!("doc-{policy}"), NOW)
            .unwrap();
    }
    s.attach_policy("d", &group_arn("root")).unwrap();
    s.attach_policy("c", &group_arn("mid")).unwrap();
    s.attach_policy("a", &group_arn("leaf")).unwrap();
    s.attach_policy("b", &group_arn("leaf")).unwrap();
    // A policy reached twice is listed once, nearest first.
    s.attach_policy("a", &group_arn("root")).unwrap();
    // A policy also on the certificate is still the group's to list: the broker merges.
    s.attach_policy("cert-too", &group_arn("mid")).unwrap();
    s.attach_policy("cert-too", &cert_arn(&id)).unwrap();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(g, p)| ((*g).to_owned(), (*p).to_owned()))
            .collect()
    };
    assert_eq!(
        inherited(&s, &id),
        pairs(&[
            ("leaf", "a"),
            ("leaf", "b"),
            ("mid", "c"),
            ("mid", "cert-too"),
            ("root", "d")
        ])
    );
    let auth = s.certificate_for_connection(&id).unwrap().unwrap();
    let thing = &auth.things[0];
    assert_eq!(thing.group_policies[0].policy.document, "doc-a");
    let names: Vec<_> = auth.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["cert-too"],
        "group policies are not the certificate's"
    );

    // Removing the thing from its group takes them all away.
    s.remove_thing_from_thing_group("leaf", "dev").unwrap();
    assert!(inherited(&s, &id).is_empty());
    // A group in another hierarchy passes on only its own line.
    make_group(&mut s, "other", None);
    s.attach_policy("b", &group_arn("other")).unwrap();
    s.add_thing_to_thing_group("other", "dev", [3; 16], NOW)
        .unwrap();
    assert_eq!(inherited(&s, &id), pairs(&[("other", "b")]));
}

#[test]
fn policies_attach_to_existing_groups_two_at_most_and_go_with_the_group() {
    let (mut s, _) = device_in_hierarchy();
    for policy in ["p1", "p2", "p3"] {
        s.create_policy(policy, "{}", NOW).unwrap();
    }
    assert!(matches!(
        s.attach_policy("p1", &group_arn("ghost")),
        Err(StoreError::NotFound {
            kind: ResourceKind::ThingGroup,
            ..
        })
    ));
    assert!(s.attach_policy("p1", &group_arn("leaf")).unwrap());
    assert!(s.attach_policy("p2", &group_arn("leaf")).unwrap());
    assert!(
        !s.attach_policy("p2", &group_arn("leaf")).unwrap(),
        "again: nothing changes, no limit"
    );
    let err = s.attach_policy("p3", &group_arn("leaf")).unwrap_err();
    assert!(matches!(err, StoreError::LimitExceeded(_)), "{err:?}");
    assert!(err.to_string().contains("p1, p2"), "{err}");
    s.attach_policy("p3", &group_arn("root")).unwrap();

    let recursive = s
        .list_thing_group_policies_recursive("leaf", &PageRequest::first(10))
        .unwrap();
    assert_eq!(recursive.items, ["p1", "p2", "p3"]);
    let direct = s
        .list_attached_policies(&group_arn("leaf"), &PageRequest::first(10))
        .unwrap();
    assert_eq!(direct.items, ["p1", "p2"]);

    // Deleting the group detaches its policies, so they can be deleted.
    s.remove_thing_from_thing_group("leaf", "dev").unwrap();
    s.delete_thing_group("leaf", None).unwrap().unwrap();
    assert!(
        s.list_attached_policies(&group_arn("leaf"), &PageRequest::first(10))
            .unwrap()
            .items
            .is_empty()
    );
    s.delete_policy("p1").unwrap();
}

#[test]
fn deprecated_types_are_not_given_to_things() {
    let mut s = mem();
    make_type(&mut s, "lamp");
    make_type(&mut s, "bulb");
    let mut lamp = new_thing("l1");
    lamp.thing_type = Some("lamp".into());
    s.create_thing(&lamp, [1; 16], NOW).unwrap();
    s.deprecate_thing_type("lamp", false, NOW).unwrap();

    let mut another = new_thing("l2");
    another.thing_type = Some("lamp".into());
    let err = s.create_thing(&another, [2; 16], NOW).unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidRequest(m) if m.starts_with("Can not create new thing with depreated thing type:lamp")),
        "{err:?}"
    );
    let mut ghost = new_thing("l3");
    ghost.thing_type = Some("ghost".into());
    assert!(matches!(
        s.create_thing(&ghost, [3; 16], NOW),
        Err(StoreError::NotFound {
            kind: ResourceKind::ThingType,
            ..
        })
    ));

    // The thing keeps its deprecated type; naming it again is not a new association.
    let same = ThingUpdate {
        thing_type: Some("lamp".into()),
        attributes: AttributeUpdate::Replace(attrs(&[("w", "60")])),
        ..Default::default()
    };
    s.update_thing("l1", &same, NOW).unwrap();
    s.create_thing(&new_thing("b1"), [4; 16], NOW).unwrap();
    let to_lamp = ThingUpdate {
        thing_type: Some("lamp".into()),
        ..Default::default()
    };
    let err = s.update_thing("b1", &to_lamp, NOW).unwrap_err();
    assert!(
        err.to_string()
            .contains("Can not update a thing to use deprecated thing type: lamp"),
        "{err}"
    );
    s.deprecate_thing_type("lamp", true, NOW).unwrap();
    s.update_thing("b1", &to_lamp, NOW).unwrap();
}

#[test]
fn every_group_type_and_membership_change_moves_the_registry_version() {
    let mut s = mem();
    s.create_thing(&new_thing("dev"), [1; 16], NOW).unwrap();
    let mut last = s.registry_version().unwrap();
    let mut moved = |s: &mut Store, what: &str| {
        let now = s.registry_version().unwrap();
        assert!(now > last, "{what} did not move the registry version");
        last = now;
    };
    make_group(&mut s, "g", None);
    moved(&mut s, "CreateThingGroup");
    s.update_thing_group(
        "g",
        &ThingGroupUpdate {
            description: Some("d".into()),
            ..Default::default()
        },
        NOW,
    )
    .unwrap();
    moved(&mut s, "UpdateThingGroup");
    s.add_thing_to_thing_group("g", "dev", [2; 16], NOW)
        .unwrap();
    moved(&mut s, "AddThingToThingGroup");
    s.remove_thing_from_thing_group("g", "dev").unwrap();
    moved(&mut s, "RemoveThingFromThingGroup");
    s.create_policy("p", "{}", NOW).unwrap();
    moved(&mut s, "CreatePolicy");
    s.attach_policy("p", &group_arn("g")).unwrap();
    moved(&mut s, "AttachPolicy to a group");
    s.delete_thing_group("g", None).unwrap();
    moved(&mut s, "DeleteThingGroup");
    make_type(&mut s, "t");
    moved(&mut s, "CreateThingType");
    s.deprecate_thing_type("t", false, NOW).unwrap();
    moved(&mut s, "DeprecateThingType");
    s.update_thing_type("t", &ThingTypeUpdate::default())
        .unwrap();
    moved(&mut s, "UpdateThingType");
    s.delete_thing_type("t", 0, NOW).unwrap();
    moved(&mut s, "DeleteThingType");
}
