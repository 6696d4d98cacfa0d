//! The registry operations a service composes inside its own transaction: fleet provisioning and
//! just-in-time registration create certificates, things, group memberships, policies and
//! attachments together, all or none, so they run as [`ServiceTx`] methods inside the request's
//! savepoint instead of as `Store` methods that each commit alone. Each method is the very
//! function the `Store` method of the same name runs, so AWS's registry rules are written once.
//! It adds no rule of its own and publishes no registry events (the services layer does).

use rusqlite::params;

use crate::certificates::{self, read_ca_certificate, read_certificate};
use crate::error::{SqlContext, StoreError};
use crate::policies::{self, read_policy};
use crate::thing_group_members::{self, memberships};
use crate::thing_groups::read_thing_group;
use crate::thing_types::read_thing_type;
use crate::things::{self, read_thing};
use crate::{
    CaCertificate, Certificate, CertificateStatus, Membership, NewCertificate, NewThing, Policy,
    ServiceTx, Thing, ThingGroup, ThingType, ThingUpdate,
};

impl ServiceTx<'_> {
    /// DescribeCertificate: the device certificate `id`, or `None`.
    pub fn certificate(&self, id: &str) -> Result<Option<Certificate>, StoreError> {
        read_certificate(self.tx, self.tx.label(), id)
    }

    /// RegisterCertificate (also what CreateKeysAndCertificate and JITR store): `AlreadyExists`
    /// when the id is taken.
    pub fn register_certificate(
        &self,
        new: &NewCertificate,
        now_unix_ms: i64,
    ) -> Result<Certificate, StoreError> {
        certificates::insert(
            self.tx,
            Certificate {
                id: new.id.clone(),
                pem: new.pem.clone(),
                status: new.status,
                ca_certificate_id: new.ca_certificate_id.clone(),
                mode: new.mode,
                owned_by: new.owned_by.clone(),
                previous_owned_by: None,
                not_before_ms: new.not_before_ms,
                not_after_ms: new.not_after_ms,
                created_ms: now_unix_ms,
                modified_ms: now_unix_ms,
                generation: 1,
            },
        )
    }

    /// Sets a certificate's status, the internal ones included; returns the previous status.
    pub fn set_certificate_status(
        &self,
        id: &str,
        status: CertificateStatus,
        now_unix_ms: i64,
    ) -> Result<CertificateStatus, StoreError> {
        certificates::set_certificate_status(self.tx, id, status, now_unix_ms)
    }

    /// DeleteCertificate under AWS's rules (not ACTIVE, no things; policies only with `force`).
    pub fn delete_certificate(&self, id: &str, force: bool) -> Result<(), StoreError> {
        certificates::delete_certificate(self.tx, id, force)
    }

    /// How many policies and things are attached to certificate `id`.
    pub fn certificate_attachments(&self, id: &str) -> Result<(i64, i64), StoreError> {
        let count = |sql: &str| -> Result<i64, StoreError> {
            self.tx
                .query_row(sql, params![id], |r| r.get(0))
                .ctx(self.tx.label(), "count certificate attachments")
        };
        Ok((
            count("SELECT count(*) FROM policy_targets WHERE certificate_id = ?1")?,
            count("SELECT count(*) FROM thing_principals WHERE certificate_id = ?1")?,
        ))
    }

    /// DescribeCACertificate: the CA certificate `id`, or `None`.
    pub fn ca_certificate(&self, id: &str) -> Result<Option<CaCertificate>, StoreError> {
        read_ca_certificate(self.tx, self.tx.label(), id)
    }

    /// DescribeThing: the thing, or `None`.
    pub fn thing(&self, name: &str) -> Result<Option<Thing>, StoreError> {
        read_thing(self.tx, self.tx.label(), name)
    }

    /// CreateThing (idempotent for an identical configuration, as in AWS).
    pub fn create_thing(
        &self,
        new: &NewThing,
        id_seed: [u8; 16],
        now_unix_ms: i64,
    ) -> Result<Thing, StoreError> {
        things::create_thing(self.tx, new, id_seed, now_unix_ms)
    }

    /// UpdateThing.
    pub fn update_thing(
        &self,
        name: &str,
        update: &ThingUpdate,
        now_unix_ms: i64,
    ) -> Result<Thing, StoreError> {
        things::update_thing(self.tx, name, update, now_unix_ms)
    }

    /// DescribeThingType: the type, or `None`.
    pub fn thing_type(&self, name: &str) -> Result<Option<ThingType>, StoreError> {
        read_thing_type(self.tx, self.tx.label(), name)
    }

    /// DescribeThingGroup: the group, or `None`.
    pub fn thing_group(&self, name: &str) -> Result<Option<ThingGroup>, StoreError> {
        read_thing_group(self.tx, self.tx.label(), name)
    }

    /// AddThingToThingGroup: `None` when the thing already was in the group.
    pub fn add_thing_to_thing_group(
        &self,
        group: &str,
        thing: &str,
        membership_seed: [u8; 16],
        now_unix_ms: i64,
    ) -> Result<Option<Membership>, StoreError> {
        thing_group_members::add(self.tx, group, thing, membership_seed, now_unix_ms)
    }

    /// RemoveThingFromThingGroup: `None` when the thing was not in the group.
    pub fn remove_thing_from_thing_group(
        &self,
        group: &str,
        thing: &str,
    ) -> Result<Option<Membership>, StoreError> {
        thing_group_members::remove(self.tx, group, thing)
    }

    /// The groups `thing` is directly in, sorted by group name.
    pub fn thing_group_memberships(&self, thing: &str) -> Result<Vec<Membership>, StoreError> {
        memberships(self.tx, self.tx.label(), "thing_name", thing)
    }

    /// GetPolicy: the policy with its default document, or `None`.
    pub fn policy(&self, name: &str) -> Result<Option<Policy>, StoreError> {
        read_policy(self.tx, self.tx.label(), name)
    }

    /// CreatePolicy: `AlreadyExists` when the name is taken.
    pub fn create_policy(
        &self,
        name: &str,
        document: &str,
        now_unix_ms: i64,
    ) -> Result<Policy, StoreError> {
        policies::create_policy(self.tx, name, document, now_unix_ms)
    }

    /// AttachPolicy to a target (a certificate ARN here); false when already attached.
    pub fn attach_policy(&self, policy: &str, target: &str) -> Result<bool, StoreError> {
        crate::principals::attach_policy(self.tx, policy, target)
    }

    /// AttachThingPrincipal.
    pub fn attach_thing_principal(
        &self,
        thing: &str,
        principal: &str,
        exclusive: bool,
    ) -> Result<(), StoreError> {
        crate::principals::attach_thing_principal(self.tx, thing, principal, exclusive)
    }
}
