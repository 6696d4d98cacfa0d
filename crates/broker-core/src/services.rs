//! Service routes: which publishes go to a service of the server (Device Shadow requests,
//! fleet provisioning, Jobs, topic rules) as well as, or instead of, to subscribers. The broker
//! only hands the message over ([`crate::Effect::ToService`]), after the publisher's
//! authorization; what a service is and what it answers is the server's business.
//!
//! Matching is built for the common case of a publish that no service wants: routes are
//! grouped by their first topic level, so a topic whose first level no route names costs one
//! hash look-up (plus the routes whose first level is a wildcard, which the server keeps few).

use std::collections::HashMap;

use mqtt_proto::TopicFilter;

use crate::index::filter_matches;

/// A service of the server, numbered by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(pub u16);

/// A service's claim on the topics matching `filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRoute {
    /// Topics claimed (a filter without the `$share/` prefix).
    pub filter: TopicFilter,
    /// Who gets them.
    pub service: ServiceId,
    /// Whether subscribers get the publish too. AWS delivers Device Shadow requests to
    /// subscribers like any message; fleet provisioning and Jobs requests, and Basic Ingest
    /// (`$aws/rules/...`), reach their service only.
    pub to_subscribers: bool,
}

/// The routes in force, indexed by first topic level.
#[derive(Debug, Default)]
pub(crate) struct ServiceRoutes {
    routes: Vec<ServiceRoute>,
    /// Indexes into `routes` by the filter's literal first level.
    by_first_level: HashMap<String, Vec<usize>>,
    /// Indexes of routes whose filter starts with a wildcard.
    wildcard_first: Vec<usize>,
    hash_matches_parent: bool,
}

/// What the routes say of one topic.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Claims {
    /// Services that get the message, each once, in route order.
    pub(crate) services: Vec<ServiceId>,
    /// False when a claiming route keeps it from subscribers.
    pub(crate) to_subscribers: bool,
}

impl ServiceRoutes {
    pub(crate) fn new(routes: Vec<ServiceRoute>, hash_matches_parent: bool) -> ServiceRoutes {
        let mut by_first_level: HashMap<String, Vec<usize>> = HashMap::new();
        let mut wildcard_first = Vec::new();
        for (at, route) in routes.iter().enumerate() {
            let first = route.filter.pattern().split('/').next().unwrap_or_default();
            if first == "+" || first == "#" {
                wildcard_first.push(at);
            } else {
                by_first_level.entry(first.to_owned()).or_default().push(at);
            }
        }
        ServiceRoutes {
            routes,
            by_first_level,
            wildcard_first,
            hash_matches_parent,
        }
    }

    pub(crate) fn routes(&self) -> &[ServiceRoute] {
        &self.routes
    }

    /// The services that claim `topic`, or `None` when none does (the common case).
    pub(crate) fn claims(&self, topic: &str) -> Option<Claims> {
        if self.routes.is_empty() {
            return None;
        }
        let first = topic.split('/').next().unwrap_or_default();
        let literal = self.by_first_level.get(first).map(Vec::as_slice);
        let candidates = literal.unwrap_or_default().iter().chain(
            // [MQTT-4.7.2-1] a filter starting with a wildcard never matches a `$` topic.
            if topic.starts_with('$') {
                &[][..]
            } else {
                self.wildcard_first.as_slice()
            },
        );
        let mut claims: Option<Claims> = None;
        for &at in candidates {
            let Some(route) = self.routes.get(at) else {
                continue;
            };
            if !filter_matches(route.filter.pattern(), topic, self.hash_matches_parent) {
                continue;
            }
            let claims = claims.get_or_insert_with(|| Claims {
                services: Vec::new(),
                to_subscribers: true,
            });
            if !claims.services.contains(&route.service) {
                claims.services.push(route.service);
            }
            claims.to_subscribers &= route.to_subscribers;
        }
        claims
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(filter: &str, service: u16, to_subscribers: bool) -> ServiceRoute {
        ServiceRoute {
            filter: TopicFilter::new(filter).unwrap(),
            service: ServiceId(service),
            to_subscribers,
        }
    }

    fn routes() -> ServiceRoutes {
        ServiceRoutes::new(
            vec![
                route("$aws/things/+/shadow/update", 1, true),
                route("$aws/things/+/shadow/name/+/update", 1, true),
                route("$aws/things/+/jobs/get", 2, false),
                route("$aws/rules/#", 3, false),
                route("sensors/+/data", 3, true),
                route("+/alarm", 3, true),
            ],
            false,
        )
    }

    #[test]
    fn unclaimed_topics_cost_a_look_up_and_claim_nothing() {
        let routes = routes();
        assert_eq!(routes.claims("devices/1/telemetry"), None);
        assert_eq!(routes.claims("$aws/things/t/shadow/update/accepted"), None);
        assert_eq!(ServiceRoutes::default().claims("anything"), None);
    }

    #[test]
    fn claims_name_each_service_once_and_who_else_gets_it() {
        let routes = routes();
        let shadow = routes.claims("$aws/things/t1/shadow/update").unwrap();
        assert_eq!(shadow.services, [ServiceId(1)]);
        assert!(shadow.to_subscribers);
        let jobs = routes.claims("$aws/things/t1/jobs/get").unwrap();
        assert!(!jobs.to_subscribers);
        let ingest = routes.claims("$aws/rules/r1/a/b").unwrap();
        assert_eq!(ingest.services, [ServiceId(3)]);
        assert!(!ingest.to_subscribers);
        let data = routes.claims("sensors/7/data").unwrap();
        assert_eq!(data.services, [ServiceId(3)]);
        assert!(routes.claims("kitchen/alarm").is_some());
    }

    #[test]
    fn wildcard_first_routes_never_claim_dollar_topics() {
        let routes = ServiceRoutes::new(vec![route("#", 1, true), route("+/x", 1, true)], true);
        assert!(routes.claims("a/x").is_some());
        assert_eq!(routes.claims("$aws/x"), None);
        assert_eq!(routes.claims("$SYS/x"), None);
    }
}
