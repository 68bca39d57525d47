//! Reading the tenant: the API hub and base URL's GET endpoints ([`hub`]), the inventory of
//! purposes and target groups ([`inventory`]), and Outreach collections ([`list`]).

pub mod hub;
pub mod inventory;
pub mod list;
