//! moto's `aws_verified` cases (tests/test_iotdata/test_iotdata.py, run against real AWS when
//! `MOTO_TEST_ALLOW_AWS_REQUEST=true`): each input sequence and the state GET then returns.

use iot_services::shadow::{Limits, ShadowError, apply_update, get_response};
use serde_json::{Value, json};

use crate::{apply, get_state, request, run};

#[test]
fn aws_verified_sequences_read_back_as_aws_shows() {
    let cases: Vec<(&str, Vec<Value>, Value)> = vec![
        (
            "desired then a different reported leaves a delta",
            vec![
                json!({"state": {"desired": {"online": true}}}),
                json!({"state": {"reported": {"online": false}}}),
            ],
            json!({
                "desired": {"online": true},
                "reported": {"online": false},
                "delta": {"online": true}
            }),
        ),
        (
            "reported catching up leaves no delta key at all",
            vec![
                json!({"state": {"desired": {"enabled": true}}}),
                json!({"state": {"reported": {"online": false, "enabled": true}}}),
            ],
            json!({"desired": {"enabled": true}, "reported": {"online": false, "enabled": true}}),
        ),
        (
            "a null for an absent key stores nothing",
            vec![json!({"state": {"reported": {"online": null}}})],
            json!({}),
        ),
        (
            "an empty desired section is not materialised",
            vec![json!({"state": {"desired": {}}})],
            json!({}),
        ),
        (
            "nested difference keeps the path to the root",
            vec![
                json!({"state": {"reported": {"a": {"b": {"c": "d", "e": "f"}}}}}),
                json!({"state": {"desired": {"a": {"b": {"c": "d2"}}}}}),
            ],
            json!({
                "desired": {"a": {"b": {"c": "d2"}}},
                "reported": {"a": {"b": {"c": "d", "e": "f"}}},
                "delta": {"a": {"b": {"c": "d2"}}}
            }),
        ),
        (
            "a desired branch missing from reported is in the delta",
            vec![
                json!({"state": {"reported": {"a1": {"b1": {"c": "d"}}}}}),
                json!({"state": {"desired": {"a1": {"b1": {"c": "d"}}, "a2": {"b2": "sth"}}}}),
            ],
            json!({
                "desired": {"a1": {"b1": {"c": "d"}}, "a2": {"b2": "sth"}},
                "reported": {"a1": {"b1": {"c": "d"}}},
                "delta": {"a2": {"b2": "sth"}}
            }),
        ),
        (
            "a differing list is copied whole",
            vec![
                json!({"state": {"reported": {"list": ["value_1", "value_2"]}}}),
                json!({"state": {"desired": {"list": ["value_1"]}}}),
            ],
            json!({
                "desired": {"list": ["value_1"]},
                "reported": {"list": ["value_1", "value_2"]},
                "delta": {"list": ["value_1"]}
            }),
        ),
        (
            "a differing nested list is copied whole",
            vec![
                json!({"state": {"reported": {"a": {"list": ["value_1", "value_2"]}}}}),
                json!({"state": {"desired": {"a": {"list": ["value_1"]}}}}),
            ],
            json!({
                "desired": {"a": {"list": ["value_1"]}},
                "reported": {"a": {"list": ["value_1", "value_2"]}},
                "delta": {"a": {"list": ["value_1"]}}
            }),
        ),
        (
            "empty objects inside desired are kept",
            vec![
                json!({"state": {"desired": {"a": 1, "b": {"c": 3}}}}),
                json!({"state": {"desired": {"a": 1, "b": {"c": 3}, "d": {}}}}),
            ],
            json!({
                "desired": {"a": 1, "b": {"c": 3}, "d": {}},
                "delta": {"a": 1, "b": {"c": 3}, "d": {}}
            }),
        ),
        (
            "a scalar replaced by an empty object is kept",
            vec![
                json!({"state": {"desired": {"a": 1, "b": {"c": 3}}}}),
                json!({"state": {"desired": {"b": {"c": {}}}}}),
            ],
            json!({"desired": {"a": 1, "b": {"c": {}}}, "delta": {"a": 1, "b": {"c": {}}}}),
        ),
        (
            "deleting fields one by one removes the section",
            vec![
                json!({"state": {"desired": {"state1": 1, "state2": 2}}}),
                json!({"state": {"desired": {"state1": null}}}),
            ],
            json!({"desired": {"state2": 2}, "delta": {"state2": 2}}),
        ),
        (
            "deleting the last field removes the desired key",
            vec![
                json!({"state": {"desired": {"state1": 1, "state2": 2}}}),
                json!({"state": {"desired": {"state1": null}}}),
                json!({"state": {"desired": {"state2": null}}}),
            ],
            json!({}),
        ),
        (
            "state null on a populated shadow clears it",
            vec![
                json!({"state": {"desired": {"a": 1}, "reported": {"b": 2}}}),
                json!({"state": null}),
            ],
            json!({}),
        ),
    ];
    for (name, payloads, expected) in cases {
        let document = run(&payloads);
        assert_eq!(get_state(&document), expected, "{name}");
        assert_eq!(document.version, payloads.len() as u64, "{name}: version");
    }
}

#[test]
fn aws_verified_state_null() {
    // test_update_empty_state: `{"state": null}` on a new shadow is accepted, echoes
    // `"state": null` with `"metadata": {"timestamp": T}`, and still creates version 1.
    let applied = apply(None, json!({"state": null}), 50);
    assert_eq!(
        applied.accepted,
        json!({"state": null, "metadata": {"timestamp": 50}, "version": 1, "timestamp": 50})
    );
    let get = get_response(&applied.document, None, 51);
    assert_eq!(
        get,
        json!({"state": {}, "metadata": {}, "version": 1, "timestamp": 51})
    );
    let again = apply(
        Some(
            &apply(
                Some(&applied.document),
                json!({"state": {"desired": {"a": 1}}}),
                52,
            )
            .document,
        ),
        json!({"state": null}),
        53,
    );
    assert_eq!(again.document.version, 3);
    assert_eq!(get_state(&again.document), json!({}));
    assert_eq!(again.delta, None);
}

#[test]
fn aws_verified_version_conflict() {
    let document = run(&[
        json!({"state": {"desired": {"led": "on"}}}),
        json!({"state": {"reported": {"led": "on"}}}),
    ]);
    let stale = request(&json!({"state": {"desired": {"led": "on"}}, "version": 1}));
    let err = apply_update(Some(&document), &stale, 200, &Limits::default()).unwrap_err();
    assert_eq!(err, ShadowError::version_conflict());
    assert_eq!((err.code, err.message.as_str()), (409, "Version conflict"));
}

#[test]
fn aws_verified_update_response_echoes_the_request_state() {
    // test_update: the accepted `state` equals the request's `state`, not the merged document.
    let document = run(&[json!({"state": {"desired": {"led": "on", "fan": 1}}})]);
    let applied = apply(
        Some(&document),
        json!({"state": {"reported": {"led": "on"}}}),
        300,
    );
    assert_eq!(
        applied.accepted["state"],
        json!({"reported": {"led": "on"}})
    );
    assert_eq!(applied.accepted["version"], json!(2));
}
