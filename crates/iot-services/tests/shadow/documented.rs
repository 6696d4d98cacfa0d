//! The developer guide's worked examples: using-device-shadows.md (the live service's own
//! messages, timestamps included), device-shadow-document.md and device-shadow-data-flow.md.

use iot_services::shadow::{
    Limits, ShadowDocument, ShadowError, apply_update, apply_update_after_delete, delete_response,
    error_response, get_response,
};
use serde_json::{Value, json};

use crate::{apply, get_state, request, run};

#[test]
fn using_device_shadows_walkthrough() {
    // The shadow does not exist yet: get/rejected.
    assert_eq!(
        error_response(&ShadowError::no_shadow("simShadow1"), None, 1591140000),
        json!({"code": 404, "message": "No shadow exists with name: 'simShadow1'"})
    );

    // The device creates it (the walkthrough's shadow had two earlier versions).
    let created = apply_update_after_delete(
        2,
        &request(&json!({
            "state": {"reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
            "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"
        })),
        1591140517,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(created.documents["previous"], Value::Null);
    let t0 = json!({"timestamp": 1591140517});
    assert_eq!(
        get_response(&created.document, None, 1591141111),
        json!({
            "state": {"reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
            "metadata": {"reported": {"ID": t0, "ColorRGB": [t0, t0, t0]}},
            "version": 3,
            "timestamp": 1591141111
        })
    );

    // The app sets a desired colour over HTTP.
    let t1 = json!({"timestamp": 1591141596});
    let desired = apply(
        Some(&created.document),
        json!({
            "state": {"desired": {"ColorRGB": [255, 255, 0]}},
            "clientToken": "21b21b21-bfd2-4279-8c65-e2f697ff4fab"
        }),
        1591141596,
    );
    assert_eq!(
        desired.accepted,
        json!({
            "state": {"desired": {"ColorRGB": [255, 255, 0]}},
            "metadata": {"desired": {"ColorRGB": [t1, t1, t1]}},
            "version": 4,
            "timestamp": 1591141596,
            "clientToken": "21b21b21-bfd2-4279-8c65-e2f697ff4fab"
        })
    );
    assert_eq!(
        desired.delta,
        Some(json!({
            "version": 4,
            "timestamp": 1591141596,
            "state": {"ColorRGB": [255, 255, 0]},
            "metadata": {"ColorRGB": [t1, t1, t1]},
            "clientToken": "21b21b21-bfd2-4279-8c65-e2f697ff4fab"
        }))
    );

    // The device reports the new colour.
    let t2 = json!({"timestamp": 1591142747});
    let reported = apply(
        Some(&desired.document),
        json!({
            "state": {"reported": {"ColorRGB": [255, 255, 0]}},
            "clientToken": "a4dc2227-9213-4c6a-a6a5-053304f60258"
        }),
        1591142747,
    );
    assert_eq!(
        reported.accepted,
        json!({
            "state": {"reported": {"ColorRGB": [255, 255, 0]}},
            "metadata": {"reported": {"ColorRGB": [t2, t2, t2]}},
            "version": 5,
            "timestamp": 1591142747,
            "clientToken": "a4dc2227-9213-4c6a-a6a5-053304f60258"
        })
    );
    assert_eq!(reported.delta, None);
    assert_eq!(
        reported.documents,
        json!({
            "previous": {
                "state": {
                    "desired": {"ColorRGB": [255, 255, 0]},
                    "reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}
                },
                "metadata": {
                    "desired": {"ColorRGB": [t1, t1, t1]},
                    "reported": {"ID": t0, "ColorRGB": [t0, t0, t0]}
                },
                "version": 4
            },
            "current": {
                "state": {
                    "desired": {"ColorRGB": [255, 255, 0]},
                    "reported": {"ID": "SmartLamp21", "ColorRGB": [255, 255, 0]}
                },
                "metadata": {
                    "desired": {"ColorRGB": [t1, t1, t1]},
                    "reported": {"ID": t0, "ColorRGB": [t2, t2, t2]}
                },
                "version": 5
            },
            "timestamp": 1591142747,
            "clientToken": "a4dc2227-9213-4c6a-a6a5-053304f60258"
        })
    );
    assert_eq!(
        get_response(&reported.document, None, 1591143269),
        json!({
            "state": {
                "desired": {"ColorRGB": [255, 255, 0]},
                "reported": {"ID": "SmartLamp21", "ColorRGB": [255, 255, 0]}
            },
            "metadata": {
                "desired": {"ColorRGB": [t1, t1, t1]},
                "reported": {"ID": t0, "ColorRGB": [t2, t2, t2]}
            },
            "version": 5,
            "timestamp": 1591143269
        })
    );
}

#[test]
fn delta_state_example_with_its_metadata() {
    // device-shadow-document.md, "Delta state" (its example nests `reported` and `delta`
    // metadata inside `desired` by mistake; they are siblings, as in every other example).
    let reported = apply(
        None,
        json!({"state": {"reported": {"color": "GREEN", "engine": "ON"}}}),
        12345,
    );
    let document = apply(
        Some(&reported.document),
        json!({"state": {"desired": {"color": "RED", "state": "STOP"}}}),
        12345,
    )
    .document;
    let t = json!({"timestamp": 12345});
    assert_eq!(
        get_response(&document, None, 123456789),
        json!({
            "state": {
                "desired": {"color": "RED", "state": "STOP"},
                "reported": {"color": "GREEN", "engine": "ON"},
                "delta": {"color": "RED", "state": "STOP"}
            },
            "metadata": {
                "desired": {"color": t, "state": t},
                "reported": {"color": t, "engine": t},
                "delta": {"color": t, "state": t}
            },
            "version": 2,
            "timestamp": 123456789
        })
    );
}

#[test]
fn nested_delta_example() {
    let document = run(&[
        json!({"state": {"reported": {"lights": {"color": {"r": 255, "g": 0, "b": 255}}}}}),
        json!({"state": {"desired": {"lights": {"color": {"r": 255, "g": 255, "b": 255}}}}}),
    ]);
    assert_eq!(
        get_state(&document)["delta"],
        json!({"lights": {"color": {"g": 255}}})
    );
    assert_eq!(
        get_response(&document, None, 0)["metadata"]["delta"],
        json!({"lights": {"color": {"g": {"timestamp": 101}}}})
    );
}

#[test]
fn arrays_replace_whole() {
    let document = run(&[
        json!({"state": {"desired": {"colors": ["RED", "GREEN", "BLUE"]}}}),
        json!({"state": {"desired": {"colors": ["RED"]}}}),
    ]);
    assert_eq!(
        get_state(&document),
        json!({"desired": {"colors": ["RED"]}, "delta": {"colors": ["RED"]}})
    );
    assert_eq!(
        document.metadata.desired,
        json!({"colors": [{"timestamp": 101}]}).as_object().cloned()
    );
}

#[test]
fn setting_desired_to_null_removes_the_section() {
    let document = run(&[
        json!({"state": {"desired": {"color": "red"}, "reported": {"color": "blue"}}}),
        json!({"state": {"reported": {"color": "red"}, "desired": null}}),
    ]);
    assert_eq!(get_state(&document), json!({"reported": {"color": "red"}}));
    assert_eq!(document.metadata.desired, None);
}

#[test]
fn optimistic_locking_example() {
    let stored = json!({
        "state": {"desired": {"colors": ["RED", "GREEN", "BLUE"]}},
        "metadata": {"desired": {"colors": [{"timestamp": 1}, {"timestamp": 1}, {"timestamp": 1}]}},
        "version": 10
    });
    let document = ShadowDocument::from_stored_json(&stored.to_string()).unwrap();
    let stale = json!({
        "state": {"desired": {"colors": ["BLUE"]}},
        "version": 9,
        "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"
    });
    let err = apply_update(Some(&document), &request(&stale), 2, &Limits::default()).unwrap_err();
    assert_eq!(
        error_response(&err, request(&stale).client_token(), 2),
        json!({
            "code": 409,
            "message": "Version conflict",
            "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"
        })
    );
    let fresh = apply(
        Some(&document),
        json!({"state": {"desired": {"colors": ["BLUE"]}}, "version": 10}),
        2,
    );
    assert_eq!(
        fresh.documents["current"],
        json!({
            "state": {"desired": {"colors": ["BLUE"]}},
            "metadata": {"desired": {"colors": [{"timestamp": 2}]}},
            "version": 11
        })
    );
}

#[test]
fn data_flow_desired_then_reported_then_delete_property() {
    // device-shadow-data-flow.md: an app requests a change, the device reports, a property is
    // deleted, then the shadow is deleted.
    let desired = apply(
        None,
        json!({"state": {"desired": {"color": {"r": 10}, "engine": "ON"}}}),
        10,
    );
    let t10 = json!({"timestamp": 10});
    assert_eq!(
        desired.accepted,
        json!({
            "state": {"desired": {"color": {"r": 10}, "engine": "ON"}},
            "metadata": {"desired": {"color": {"r": t10}, "engine": t10}},
            "version": 1,
            "timestamp": 10
        })
    );
    assert_eq!(
        desired.delta,
        Some(json!({
            "state": {"color": {"r": 10}, "engine": "ON"},
            "metadata": {"color": {"r": t10}, "engine": t10},
            "version": 1,
            "timestamp": 10
        }))
    );
    assert_eq!(
        desired.documents,
        json!({
            "previous": null,
            "current": {
                "state": {"desired": {"color": {"r": 10}, "engine": "ON"}},
                "metadata": {"desired": {"color": {"r": t10}, "engine": t10}},
                "version": 1
            },
            "timestamp": 10
        })
    );

    let reported = apply(
        Some(&desired.document),
        json!({"state": {"reported": {"color": {"r": 10}, "engine": "ON"}}}),
        20,
    );
    assert_eq!(reported.delta, None);
    assert_eq!(reported.accepted["version"], json!(2));

    let deleted = apply(
        Some(&reported.document),
        json!({"state": {"desired": {"engine": null}}}),
        30,
    );
    assert_eq!(
        deleted.accepted,
        json!({
            "state": {"desired": {"engine": null}},
            "metadata": {"desired": {"engine": {"timestamp": 30}}},
            "version": 3,
            "timestamp": 30
        })
    );
    assert_eq!(
        get_state(&deleted.document),
        json!({"desired": {"color": {"r": 10}}, "reported": {"color": {"r": 10}, "engine": "ON"}})
    );
    // Untouched leaves keep their timestamps.
    assert_eq!(
        deleted.document.metadata.desired,
        json!({"color": {"r": {"timestamp": 10}}})
            .as_object()
            .cloned()
    );
    assert_eq!(
        delete_response(deleted.document.version, None, 1591057529),
        json!({"version": 3, "timestamp": 1591057529})
    );
}

#[test]
fn delta_message_carries_the_whole_delta() {
    // device-shadow-mqtt.md: the delta "contains all of these attributes, regardless of
    // whether these attributes were contained in the current update message".
    let first = run(&[json!({"state": {"desired": {"a": 1, "b": 2}}})]);
    let second = apply(Some(&first), json!({"state": {"desired": {"b": 3}}}), 500);
    assert_eq!(
        second.delta,
        Some(json!({
            "state": {"a": 1, "b": 3},
            "metadata": {"a": {"timestamp": 100}, "b": {"timestamp": 500}},
            "version": 2,
            "timestamp": 500
        }))
    );
    // A reported-only update that leaves a delta publishes it too.
    let third = apply(
        Some(&second.document),
        json!({"state": {"reported": {"a": 1}}}),
        600,
    );
    assert_eq!(third.delta.unwrap()["state"], json!({"b": 3}));
}

#[test]
fn client_token_is_echoed_everywhere() {
    let applied = apply(
        None,
        json!({"state": {"desired": {"a": 1}}, "clientToken": "tok"}),
        5,
    );
    assert_eq!(applied.accepted["clientToken"], json!("tok"));
    assert_eq!(applied.delta.unwrap()["clientToken"], json!("tok"));
    assert_eq!(applied.documents["clientToken"], json!("tok"));
    assert_eq!(
        get_response(&applied.document, Some("g"), 6)["clientToken"],
        json!("g")
    );
}

#[test]
fn version_on_a_shadow_that_does_not_exist() {
    let limits = Limits::default();
    let zero = request(&json!({"state": {"desired": {"a": 1}}, "version": 0}));
    assert_eq!(
        apply_update(None, &zero, 1, &limits)
            .unwrap()
            .document
            .version,
        1
    );
    let one = request(&json!({"state": {"desired": {"a": 1}}, "version": 1}));
    assert_eq!(
        apply_update(None, &one, 1, &limits).unwrap_err(),
        ShadowError::version_conflict()
    );
    // After a delete within 48 hours the versions continue.
    let seven = request(&json!({"state": {"desired": {"a": 1}}, "version": 7}));
    assert_eq!(
        apply_update_after_delete(7, &seven, 1, &limits)
            .unwrap()
            .document
            .version,
        8
    );
}

#[test]
fn stored_json_round_trips_and_names_what_is_wrong() {
    let document = run(&[
        json!({"state": {"desired": {"a": [1, {"b": 2}], "e": {}}, "reported": {"c": 1.5}}}),
    ]);
    let text = document.to_stored_json();
    assert_eq!(ShadowDocument::from_stored_json(&text).unwrap(), document);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["metadata"]["desired"]["a"],
        json!([{"timestamp": 100}, {"b": {"timestamp": 100}}])
    );
    let not_json = ShadowDocument::from_stored_json("{").unwrap_err();
    assert!(
        not_json
            .to_string()
            .starts_with("stored shadow document is not JSON"),
        "{not_json}"
    );
    let shape =
        ShadowDocument::from_stored_json(r#"{"state":{"desired":5},"version":1}"#).unwrap_err();
    assert!(shape.to_string().contains("wrong shape"), "{shape}");
    let no_version = ShadowDocument::from_stored_json(r#"{"state":{}}"#).unwrap_err();
    assert!(no_version.to_string().contains("version"), "{no_version}");
}
