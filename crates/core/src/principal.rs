//! Who a request acts as.

use serde::{Deserialize, Serialize};

use crate::TenantId;

/// The role a principal holds within its tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalRole {
    /// The single-tenant owner (no auth configured, loopback).
    Owner,
    /// Manages users and settings.
    Admin,
    /// Uses the analyst.
    Member,
}

/// The identity a request acts as; every store call is scoped by its tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The tenant everything it touches belongs to (switched by `X-Tenant-ID` where allowed).
    pub tenant_id: TenantId,
    /// The tenant its user account lives in.
    pub home_tenant_id: TenantId,
    /// Its user id, if it is a user.
    pub user_id: Option<String>,
    /// Its role.
    pub role: PrincipalRole,
    /// May act for another tenant through `X-Tenant-ID`.
    pub acts_for_tenants: bool,
}

impl Principal {
    /// The owner of a single-tenant server, acting for `tenant_id`.
    pub fn owner(tenant_id: TenantId) -> Self {
        Self {
            home_tenant_id: tenant_id.clone(),
            tenant_id,
            user_id: Some("owner".to_owned()),
            role: PrincipalRole::Owner,
            acts_for_tenants: true,
        }
    }

    /// True for the owner and admins.
    pub fn is_admin(&self) -> bool {
        matches!(self.role, PrincipalRole::Owner | PrincipalRole::Admin)
    }
}
