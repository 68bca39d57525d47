//! Reading the tenant: the API hub and base URL's GET endpoints ([`hub`]), the inventory of
//! purposes and target groups ([`inventory`]), Outreach collections ([`list`]), and what
//! `forget check` proves ([`check`]).

pub mod check;
pub mod hub;
pub mod inventory;
pub mod list;
