//! Test kit for Porthole (native only).
