//! The ENIs that claim a NodeENI (this cluster's name, its UID) but lost another of
//! their ownership tags: reported once each with a Warning while listings show them,
//! and named in the status; never touched, never counted as the NodeENI's.

use std::collections::BTreeSet;

use crate::k8s::{About, Notice};

/// The unmanaged ENIs already reported.
#[derive(Default)]
pub struct Unmanaged {
    reported: BTreeSet<String>,
}

impl Unmanaged {
    /// The Warnings for the unmanaged ENIs a listing showed (`now`) that were not
    /// reported yet (one gone and back is reported again).
    pub fn news(&mut self, now: &BTreeSet<String>) -> Vec<Notice> {
        self.reported.retain(|id| now.contains(id));
        let news: Vec<String> = now.difference(&self.reported).cloned().collect();
        self.reported.extend(news.iter().cloned());
        news.into_iter()
            .map(|id| {
                Notice::warning(
                    "UnmanagedENI",
                    "Reconcile",
                    format!("{id} carries this NodeENI's UID but not all of its ownership tags (one was removed by hand or by automation): it is left alone, never deleted and never replaced; restore its tags or delete it"),
                )
                .about(About::Eni(id))
            })
            .collect()
    }

    /// The unmanaged ENIs `now`, in words, if any.
    pub fn words(now: &BTreeSet<String>) -> Option<String> {
        (!now.is_empty()).then(|| {
            let ids: Vec<&str> = now.iter().map(String::as_str).collect();
            format!(
                "{} ENIs carry this NodeENI's UID but not all of its ownership tags and are left alone: {}",
                ids.len(),
                ids.join(", ")
            )
        })
    }
}
