//! Registry rules: things, certificates, CA certificates, policies, attachments, the broker's
//! connection lookup, and pagination of every list.

use super::*;

// ---------------------------------------------------------------- things

#[test]
fn create_thing_is_idempotent_for_identical_config_only() {
    let mut s = mem();
    let a = s.create_thing(&new_thing("dev1"), [1; 16], NOW).unwrap();
    assert_eq!((a.version, a.thing_id.len()), (1, 36));
    let again = s
        .create_thing(&new_thing("dev1"), [2; 16], NOW + 5)
        .unwrap();
    assert_eq!(
        again, a,
        "identical create returns the existing thing unchanged"
    );
    let mut different = new_thing("dev1");
    different.attributes = attrs(&[("k", "v")]);
    let err = s.create_thing(&different, [3; 16], NOW).unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists { kind: ResourceKind::Thing, id } if id == "dev1"),
        "{err:?}"
    );
    assert_eq!(s.thing("dev1").unwrap(), Some(a));
    let err = s
        .create_thing(&new_thing("dev2"), [1; 16], NOW)
        .unwrap_err();
    assert!(err.to_string().contains("fresh random bytes"), "{err}");
    assert_eq!(s.thing("nope").unwrap(), None);
}

#[test]
fn update_thing_merges_replaces_and_checks_versions() {
    let mut s = mem();
    let mut t = new_thing("dev");
    t.attributes = attrs(&[("a", "1"), ("b", "2")]);
    s.create_thing(&t, [0; 16], NOW).unwrap();

    let merged = s
        .update_thing(
            "dev",
            &ThingUpdate {
                attributes: AttributeUpdate::Merge(attrs(&[("a", ""), ("c", "3")])),
                expected_version: Some(1),
                ..Default::default()
            },
            NOW + 1,
        )
        .unwrap();
    assert_eq!(merged.attributes, attrs(&[("b", "2"), ("c", "3")]));
    assert_eq!((merged.version, merged.modified_ms), (2, NOW + 1));

    let err = s
        .update_thing(
            "dev",
            &ThingUpdate {
                expected_version: Some(1),
                ..Default::default()
            },
            NOW,
        )
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::VersionConflict {
            expected: 1,
            actual: 2,
            ..
        }
    ));

    let err = s
        .update_thing(
            "dev",
            &ThingUpdate {
                thing_type: Some("sensor".into()),
                ..Default::default()
            },
            NOW,
        )
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: ResourceKind::ThingType, ref id } if id == "sensor"),
        "a type must exist first: {err:?}"
    );
    make_type(&mut s, "sensor");
    let typed = s
        .update_thing(
            "dev",
            &ThingUpdate {
                thing_type: Some("sensor".into()),
                attributes: AttributeUpdate::Replace(attrs(&[("z", "9")])),
                ..Default::default()
            },
            NOW,
        )
        .unwrap();
    assert_eq!(typed.thing_type.as_deref(), Some("sensor"));
    assert_eq!(typed.attributes, attrs(&[("z", "9")]));

    let both = ThingUpdate {
        thing_type: Some("x".into()),
        remove_thing_type: true,
        ..Default::default()
    };
    assert!(matches!(
        s.update_thing("dev", &both, NOW),
        Err(StoreError::InvalidRequest(_))
    ));
    let untyped = s
        .update_thing(
            "dev",
            &ThingUpdate {
                remove_thing_type: true,
                ..Default::default()
            },
            NOW,
        )
        .unwrap();
    assert_eq!((untyped.thing_type, untyped.version), (None, 4));

    assert!(matches!(
        s.update_thing("ghost", &ThingUpdate::default(), NOW),
        Err(StoreError::NotFound {
            kind: ResourceKind::Thing,
            ..
        })
    ));
}

#[test]
fn thing_attribute_limit_is_three_without_a_type() {
    let mut s = mem();
    let mut t = new_thing("many");
    t.attributes = attrs(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
    assert!(matches!(
        s.create_thing(&t, [0; 16], NOW),
        Err(StoreError::InvalidRequest(_))
    ));
    t.thing_type = Some("typed".into());
    make_type(&mut s, "typed");
    s.create_thing(&t, [0; 16], NOW).unwrap();
}

#[test]
fn delete_thing_rules() {
    let mut s = mem();
    assert!(
        !s.delete_thing("missing", None).unwrap(),
        "missing thing is success"
    );
    s.create_thing(&new_thing("dev"), [0; 16], NOW).unwrap();
    assert!(matches!(
        s.delete_thing("dev", Some(7)),
        Err(StoreError::VersionConflict { .. })
    ));
    s.register_certificate(&new_cert(1, CertificateStatus::Active), NOW)
        .unwrap();
    s.attach_thing_principal("dev", &cert_arn(&cert_id(1)), false)
        .unwrap();
    let err = s.delete_thing("dev", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid request: Cannot delete. Thing dev is still attached to one or more principals"
    );
    assert!(
        s.detach_thing_principal("dev", &cert_arn(&cert_id(1)))
            .unwrap()
    );
    assert!(s.delete_thing("dev", Some(1)).unwrap());
    assert_eq!(s.thing("dev").unwrap(), None);
}

#[test]
fn list_things_filters_and_pages() {
    let mut s = mem();
    make_type(&mut s, "even");
    for i in 0..23 {
        let mut t = new_thing(&format!("thing-{i:02}"));
        if i % 2 == 0 {
            t.thing_type = Some("even".into());
        }
        t.attributes = attrs(&[("room", if i < 5 { "kitchen-1" } else { "hall" })]);
        s.create_thing(&t, [i; 16], NOW).unwrap();
    }
    let (all, pages) = all_pages(5, Order::Ascending, |p| {
        s.list_things(&ThingFilter::default(), p)
    });
    let names: Vec<_> = all.iter().map(|t| t.name.clone()).collect();
    let expected: Vec<_> = (0..23).map(|i| format!("thing-{i:02}")).collect();
    assert_eq!((names, pages), (expected.clone(), 5));

    let (desc, _) = all_pages(7, Order::Descending, |p| {
        s.list_things(&ThingFilter::default(), p)
    });
    let mut reversed = expected;
    reversed.reverse();
    assert_eq!(
        desc.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        reversed
    );

    let typed = ThingFilter {
        thing_type: Some("even".into()),
        ..Default::default()
    };
    let (evens, _) = all_pages(3, Order::Ascending, |p| s.list_things(&typed, p));
    assert_eq!(evens.len(), 12);

    let exact = ThingFilter {
        attribute: Some(("room".into(), "kitchen".into())),
        ..Default::default()
    };
    assert!(
        s.list_things(&exact, &PageRequest::first(100))
            .unwrap()
            .items
            .is_empty()
    );
    let prefix = ThingFilter {
        attribute_value_is_prefix: true,
        ..exact
    };
    let page = s.list_things(&prefix, &PageRequest::first(100)).unwrap();
    assert_eq!(page.items.len(), 5);
    assert_eq!(page.next_token, None);
}

// ---------------------------------------------------------------- certificates

#[test]
fn register_certificate_rules() {
    let mut s = mem();
    let c = s
        .register_certificate(&new_cert(1, CertificateStatus::Inactive), NOW)
        .unwrap();
    assert_eq!((c.created_ms, c.generation), (NOW, 1));
    let err = s
        .register_certificate(&new_cert(1, CertificateStatus::Active), NOW)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists { kind: ResourceKind::Certificate, id } if *id == cert_id(1))
    );
    let mut bad = new_cert(2, CertificateStatus::Active);
    bad.id = "NOT-HEX".into();
    assert!(matches!(
        s.register_certificate(&bad, NOW),
        Err(StoreError::InvalidRequest(_))
    ));
    assert_eq!(s.certificate(&cert_id(1)).unwrap(), Some(c));
    assert_eq!(s.certificate(&cert_id(9)).unwrap(), None);
}

#[test]
fn update_certificate_status_rules() {
    let mut s = mem();
    s.register_certificate(&new_cert(1, CertificateStatus::Active), NOW)
        .unwrap();
    for internal in [
        CertificateStatus::PendingTransfer,
        CertificateStatus::PendingActivation,
    ] {
        assert!(matches!(
            s.update_certificate_status(&cert_id(1), internal, NOW),
            Err(StoreError::InvalidRequest(_))
        ));
    }
    let before = s
        .update_certificate_status(&cert_id(1), CertificateStatus::Revoked, NOW + 9)
        .unwrap();
    assert_eq!(before, CertificateStatus::Active);
    let c = s.certificate(&cert_id(1)).unwrap().unwrap();
    assert_eq!(
        (c.status, c.modified_ms, c.generation),
        (CertificateStatus::Revoked, NOW + 9, 2)
    );
    // The internal path (JITR, provisioning) may set any status.
    s.set_certificate_status(&cert_id(1), CertificateStatus::PendingActivation, NOW)
        .unwrap();
    assert!(matches!(
        s.update_certificate_status(&cert_id(7), CertificateStatus::Active, NOW),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn delete_certificate_rules() {
    let mut s = mem();
    let id = cert_id(1);
    let arn = cert_arn(&id);
    s.register_certificate(&new_cert(1, CertificateStatus::Active), NOW)
        .unwrap();
    s.create_thing(&new_thing("dev"), [0; 16], NOW).unwrap();
    s.create_policy("p", "{}", NOW).unwrap();
    s.attach_thing_principal("dev", &arn, false).unwrap();
    s.attach_policy("p", &arn).unwrap();

    let err = s.delete_certificate(&id, true).unwrap_err();
    assert!(
        matches!(&err, StoreError::CertificateState { status, .. } if status == "ACTIVE"),
        "{err:?}"
    );
    s.update_certificate_status(&id, CertificateStatus::Inactive, NOW)
        .unwrap();
    let err = s.delete_certificate(&id, true).unwrap_err();
    assert!(
        matches!(&err, StoreError::DeleteConflict { reason, .. } if reason.contains("thing")),
        "{err:?}"
    );
    s.detach_thing_principal("dev", &arn).unwrap();
    let err = s.delete_certificate(&id, false).unwrap_err();
    assert!(
        matches!(&err, StoreError::DeleteConflict { reason, .. } if reason.contains("forceDelete")),
        "{err:?}"
    );
    s.delete_certificate(&id, true).unwrap();
    assert_eq!(s.certificate(&id).unwrap(), None);
    let attached = s
        .list_attached_policies(&arn, &PageRequest::first(10))
        .unwrap();
    assert!(attached.items.is_empty(), "force delete detaches policies");
    s.delete_policy("p").unwrap();
    assert!(matches!(
        s.delete_certificate(&id, true),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn list_certificates_pages_by_creation_time_both_ways() {
    let mut s = mem();
    for n in 0..17u8 {
        // Two certificates per millisecond: ties are broken by id.
        s.register_certificate(
            &new_cert(n, CertificateStatus::Active),
            NOW + i64::from(n / 2),
        )
        .unwrap();
    }
    let (asc, pages) = all_pages(4, Order::Ascending, |p| s.list_certificates(p));
    assert_eq!(pages, 5);
    let ids: Vec<_> = asc.iter().map(|c| c.id.clone()).collect();
    let expected: Vec<_> = (0..17u8).map(cert_id).collect();
    assert_eq!(ids, expected);
    let (desc, _) = all_pages(3, Order::Descending, |p| s.list_certificates(p));
    let mut reversed = expected;
    reversed.reverse();
    assert_eq!(
        desc.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        reversed
    );

    let bad = PageRequest {
        token: Some("garbage".into()),
        ..PageRequest::first(3)
    };
    assert!(matches!(
        s.list_certificates(&bad),
        Err(StoreError::InvalidToken { .. })
    ));
}

#[test]
fn ca_certificates_and_certificates_by_ca() {
    let mut s = mem();
    let ca_id = "c".repeat(64);
    let new_ca = NewCaCertificate {
        id: ca_id.clone(),
        pem: "ca pem".into(),
        status: CaCertificateStatus::Active,
        auto_registration: false,
        mode: CertificateMode::SniOnly,
        owned_by: ACCOUNT.into(),
        registration_config: None,
        not_before_ms: 0,
        not_after_ms: NOW * 2,
    };
    let ca = s.register_ca_certificate(&new_ca, NOW).unwrap();
    assert_eq!(ca.mode, CertificateMode::SniOnly);
    assert!(matches!(
        s.register_ca_certificate(&new_ca, NOW),
        Err(StoreError::AlreadyExists {
            kind: ResourceKind::CaCertificate,
            ..
        })
    ));
    for n in 0..5u8 {
        let mut c = new_cert(n, CertificateStatus::PendingActivation);
        if n % 2 == 1 {
            c.ca_certificate_id = Some(ca_id.clone());
        }
        s.register_certificate(&c, NOW + i64::from(n)).unwrap();
    }
    let (by_ca, _) = all_pages(1, Order::Ascending, |p| {
        s.list_certificates_by_ca(&ca_id, p)
    });
    assert_eq!(
        by_ca.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        vec![cert_id(1), cert_id(3)]
    );

    let updated = s
        .update_ca_certificate(
            &ca_id,
            None,
            Some(true),
            Some("{\"templateBody\":\"{}\"}"),
            NOW + 1,
        )
        .unwrap();
    assert!(updated.auto_registration);
    assert_eq!(updated.generation, 2);
    assert_eq!(s.ca_certificate(&ca_id).unwrap(), Some(updated));
    assert!(matches!(
        s.delete_ca_certificate(&ca_id),
        Err(StoreError::CertificateState { .. })
    ));
    s.update_ca_certificate(&ca_id, Some(CaCertificateStatus::Inactive), None, None, NOW)
        .unwrap();
    let listed = s.list_ca_certificates(&PageRequest::first(10)).unwrap();
    assert_eq!(listed.items.len(), 1);
    s.delete_ca_certificate(&ca_id).unwrap();
    assert_eq!(s.ca_certificate(&ca_id).unwrap(), None);
    assert!(matches!(
        s.delete_ca_certificate(&ca_id),
        Err(StoreError::NotFound { .. })
    ));
}

// ---------------------------------------------------------------- policies

#[test]
fn policy_versions_are_limited_to_five_and_never_reused() {
    let mut s = mem();
    let p = s.create_policy("p", "v1", NOW).unwrap();
    assert_eq!(p.default_version, 1);
    assert!(matches!(
        s.create_policy("p", "again", NOW),
        Err(StoreError::AlreadyExists {
            kind: ResourceKind::Policy,
            ..
        })
    ));
    for v in 2..=5 {
        let pv = s
            .create_policy_version("p", &format!("v{v}"), v == 3, NOW)
            .unwrap();
        assert_eq!(pv.version, v);
    }
    let err = s.create_policy_version("p", "v6", false, NOW).unwrap_err();
    assert!(matches!(
        err,
        StoreError::VersionsLimitExceeded { limit: 5, .. }
    ));
    let got = s.policy("p").unwrap().unwrap();
    assert_eq!((got.default_version, got.document.as_str()), (3, "v3"));

    let err = s.delete_policy_version("p", 3).unwrap_err();
    assert!(matches!(
        err,
        StoreError::DeleteConflict {
            kind: ResourceKind::PolicyVersion,
            ..
        }
    ));
    s.delete_policy_version("p", 2).unwrap();
    assert!(matches!(
        s.delete_policy_version("p", 2),
        Err(StoreError::NotFound { .. })
    ));
    let v6 = s.create_policy_version("p", "v6", false, NOW).unwrap();
    assert_eq!(v6.version, 6, "version ids are not reused");
    let versions = s.list_policy_versions("p").unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.is_default))
            .collect::<Vec<_>>(),
        vec![(6, false), (5, false), (4, false), (3, true), (1, false)]
    );
    assert!(matches!(
        s.set_default_policy_version("p", 2, NOW),
        Err(StoreError::NotFound {
            kind: ResourceKind::PolicyVersion,
            ..
        })
    ));
    s.set_default_policy_version("p", 6, NOW).unwrap();
    assert!(s.policy_version("p", 6).unwrap().unwrap().is_default);
    assert!(!s.policy_version("p", 3).unwrap().unwrap().is_default);
    assert!(matches!(
        s.list_policy_versions("nope"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn delete_policy_rules() {
    let mut s = mem();
    s.create_policy("p", "doc", NOW).unwrap();
    s.create_policy_version("p", "doc2", true, NOW).unwrap();
    let group = format!("arn:aws:iot:us-east-1:{ACCOUNT}:thinggroup/floor1");
    let floor = NewThingGroup {
        name: "floor1".into(),
        ..Default::default()
    };
    s.create_thing_group(&floor, [1; 16], NOW).unwrap();
    assert!(s.attach_policy("p", &group).unwrap());
    assert!(
        !s.attach_policy("p", &group).unwrap(),
        "second attach is a no-op"
    );
    let err = s.delete_policy("p").unwrap_err();
    assert!(
        matches!(&err, StoreError::DeleteConflict { reason, .. } if reason.contains("attached"))
    );
    assert!(s.detach_policy("p", &group).unwrap());
    let err = s.delete_policy("p").unwrap_err();
    assert!(
        matches!(&err, StoreError::DeleteConflict { reason, .. } if reason.contains("version")),
        "{err}"
    );
    s.delete_policy_version("p", 1).unwrap();
    s.delete_policy("p").unwrap();
    assert_eq!(s.policy("p").unwrap(), None);
    assert!(matches!(
        s.delete_policy("p"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn list_policies_pages() {
    let mut s = mem();
    for i in 0..11 {
        s.create_policy(&format!("pol{i:02}"), "{}", NOW).unwrap();
    }
    let (all, pages) = all_pages(4, Order::Ascending, |p| s.list_policies(p));
    assert_eq!((all.len(), pages), (11, 3));
    assert!(all.windows(2).all(|w| w[0].name < w[1].name));
}

// ---------------------------------------------------------------- attachments

#[test]
fn policy_attachments_list_both_ways() {
    let mut s = mem();
    let id = cert_id(1);
    let arn = cert_arn(&id);
    assert!(matches!(
        s.attach_policy("p", &arn),
        Err(StoreError::NotFound {
            kind: ResourceKind::Policy,
            ..
        })
    ));
    for name in ["a", "b", "c"] {
        s.create_policy(name, name, NOW).unwrap();
    }
    assert!(matches!(
        s.attach_policy("a", &arn),
        Err(StoreError::NotFound {
            kind: ResourceKind::Certificate,
            ..
        })
    ));
    s.register_certificate(&new_cert(1, CertificateStatus::Active), NOW)
        .unwrap();
    for name in ["c", "a", "b"] {
        s.attach_policy(name, &arn).unwrap();
    }
    s.attach_policy("a", "us-east-1:cognito-identity").unwrap();
    let (names, _) = all_pages(2, Order::Ascending, |p| s.list_attached_policies(&arn, p));
    assert_eq!(names, vec!["a", "b", "c"]);
    let (targets, _) = all_pages(1, Order::Ascending, |p| s.list_policy_targets("a", p));
    assert_eq!(
        targets,
        vec![arn.clone(), "us-east-1:cognito-identity".to_owned()]
    );
    assert!(!s.detach_policy("b", "not-attached").unwrap());
}

#[test]
fn exclusive_thing_principals() {
    let mut s = mem();
    let arn = cert_arn(&cert_id(1));
    for (i, name) in ["t1", "t2", "t3"].into_iter().enumerate() {
        s.create_thing(&new_thing(name), [i as u8; 16], NOW)
            .unwrap();
    }
    assert!(matches!(
        s.attach_thing_principal("t1", &arn, false),
        Err(StoreError::NotFound {
            kind: ResourceKind::Certificate,
            ..
        })
    ));
    s.register_certificate(&new_cert(1, CertificateStatus::Active), NOW)
        .unwrap();
    assert!(matches!(
        s.attach_thing_principal("ghost", &arn, false),
        Err(StoreError::NotFound {
            kind: ResourceKind::Thing,
            ..
        })
    ));
    s.attach_thing_principal("t1", &arn, false).unwrap();
    s.attach_thing_principal("t2", &arn, false).unwrap();
    assert!(matches!(
        s.attach_thing_principal("t3", &arn, true),
        Err(StoreError::InvalidRequest(_))
    ));
    s.detach_thing_principal("t2", &arn).unwrap();
    // Re-attaching the same pair may turn it exclusive.
    s.attach_thing_principal("t1", &arn, true).unwrap();
    let err = s.attach_thing_principal("t3", &arn, false).unwrap_err();
    assert!(
        err.to_string().contains("exclusively attached to thing t1"),
        "{err}"
    );

    let things = s
        .list_principal_things(&arn, &PageRequest::first(10))
        .unwrap();
    assert_eq!(
        things.items,
        vec![ThingPrincipal {
            thing_name: "t1".into(),
            principal: arn.clone(),
            exclusive: true
        }]
    );
    s.attach_thing_principal("t3", "us-east-1:cognito-a", false)
        .unwrap();
    s.attach_thing_principal("t3", "us-east-1:cognito-b", false)
        .unwrap();
    let (principals, pages) = all_pages(1, Order::Ascending, |p| s.list_thing_principals("t3", p));
    assert_eq!(pages, 2);
    assert_eq!(principals[1].principal, "us-east-1:cognito-b");
}

#[test]
fn certificate_for_connection_gathers_everything() {
    let mut s = mem();
    let id = cert_id(4);
    assert_eq!(s.certificate_for_connection(&id).unwrap(), None);
    s.register_certificate(&new_cert(4, CertificateStatus::Active), NOW)
        .unwrap();
    let bare = s.certificate_for_connection(&id).unwrap().unwrap();
    assert_eq!(bare.status, CertificateStatus::Active);
    assert!(bare.policies.is_empty() && bare.things.is_empty());

    s.create_policy("connect", "v1", NOW).unwrap();
    s.create_policy_version("connect", "v2", true, NOW).unwrap();
    s.create_policy("pubsub", "ps", NOW).unwrap();
    s.create_policy("other", "x", NOW).unwrap();
    s.attach_policy("pubsub", &cert_arn(&id)).unwrap();
    s.attach_policy("connect", &cert_arn(&id)).unwrap();
    s.attach_policy(
        "other",
        &cert_arn(&cert_id(4)).replace("us-east-1", "eu-west-1"),
    )
    .unwrap();
    let mut t = new_thing("dev4");
    make_type(&mut s, "sensor");
    t.thing_type = Some("sensor".into());
    t.attributes = attrs(&[("floor", "2")]);
    s.create_thing(&t, [4; 16], NOW).unwrap();
    s.attach_thing_principal("dev4", &cert_arn(&id), true)
        .unwrap();

    let auth = s.certificate_for_connection(&id).unwrap().unwrap();
    let docs: Vec<_> = auth
        .policies
        .iter()
        .map(|p| (p.name.as_str(), p.document.as_str()))
        .collect();
    // A certificate ARN from another region names the same certificate.
    assert_eq!(
        docs,
        vec![("connect", "v2"), ("other", "x"), ("pubsub", "ps")]
    );
    assert_eq!(
        auth.things,
        vec![AttachedThing {
            name: "dev4".into(),
            thing_type: Some("sensor".into()),
            attributes: attrs(&[("floor", "2")]),
            exclusive: true,
            group_policies: Vec::new(),
        }]
    );
}

#[test]
fn registry_changes_move_the_registry_version_and_broker_writes_do_not() {
    let mut s = Store::open_in_memory().unwrap();
    let start = s.registry_version().unwrap();
    s.apply(&[store::WriteOp::UpsertSession(store::SessionRecord {
        client_id: "c".into(),
        protocol_level: 4,
        expiry_interval_s: 60,
        disconnected_ms: None,
        will: None,
    })])
    .unwrap();
    assert_eq!(
        s.registry_version().unwrap(),
        start,
        "broker writes are not registry changes"
    );
    s.create_policy("p", r#"{"Version":"2012-10-17","Statement":[]}"#, 1)
        .unwrap();
    assert!(s.registry_version().unwrap() > start);
}
