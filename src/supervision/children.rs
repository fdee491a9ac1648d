//! The supervision record every supervisor keeps of its children: which actor runs each
//! child now, its failure history, and whether it is over its restart budget. A
//! supervisor asks it which child an exit belongs to and when to restart that child;
//! starting the child again is the supervisor's own business.

use std::collections::BTreeMap;

use ractor::{ActorCell, ActorRef, Message, SupervisionEvent};
use tokio::time::Instant;

use super::{ChildExit, RestartDecision, RestartPolicy, RestartTracker};

struct Child {
    cell: Option<ActorCell>,
    restarts: RestartTracker,
    over_budget: bool,
}

/// The children of one supervisor, by key, all restarted under one policy and counted
/// in `aws_multi_eni_actor_restarts_total{kind}`.
pub struct Children<K> {
    kind: &'static str,
    policy: RestartPolicy,
    entries: BTreeMap<K, Child>,
}

/// A child that exited and is still wanted, with the supervisor's next move.
#[derive(Debug)]
pub struct Exited<K> {
    /// Which child.
    pub key: K,
    /// Its error if it failed; `None` if it stopped.
    pub failure: Option<String>,
}

impl<K: Ord + Clone + std::fmt::Display> Children<K> {
    /// No children yet; `kind` is the metric label of their restarts.
    pub fn new(kind: &'static str, policy: RestartPolicy) -> Self {
        Children {
            kind,
            policy,
            entries: BTreeMap::new(),
        }
    }

    /// Records that `actor` now runs the child `key` (first start or restart).
    pub fn started<M: Message>(&mut self, key: K, actor: &ActorRef<M>) {
        let entry = self.entries.entry(key).or_insert_with(|| Child {
            cell: None,
            restarts: RestartTracker::default(),
            over_budget: false,
        });
        entry.cell = Some(actor.get_cell());
    }

    /// The actor running `key`, if it runs (not between a failure and its restart).
    pub fn get<M: Message>(&self, key: &K) -> Option<ActorRef<M>> {
        self.entries.get(key)?.cell.clone().map(ActorRef::from)
    }

    /// Whether `key` is known and waits for a restart.
    pub fn down(&self, key: &K) -> bool {
        self.entries.get(key).is_some_and(|c| c.cell.is_none())
    }

    /// The children that have spent their restart budget (reported as degraded): one
    /// walk, for a caller that asks of every child.
    pub fn over_budget_keys(&self) -> std::collections::BTreeSet<&K> {
        self.entries
            .iter()
            .filter(|(_, c)| c.over_budget)
            .map(|(k, _)| k)
            .collect()
    }

    /// Forgets `key` and stops its actor, if running, with `reason`: its exit is then
    /// not a failure to restart.
    pub fn stop(&mut self, key: &K, reason: &str) {
        if let Some(Child { cell: Some(c), .. }) = self.entries.remove(key) {
            c.stop(Some(reason.to_string()));
        }
    }

    /// Forgets `key` without stopping it (it stops itself); returns its actor, if running.
    pub fn forget(&mut self, key: &K) -> Option<ActorCell> {
        self.entries.remove(key)?.cell
    }

    /// The child a supervision event reports exited, if it is one of these (a child
    /// stopped on purpose was forgotten first, so it is not).
    pub fn exited(&mut self, evt: &SupervisionEvent) -> Option<Exited<K>> {
        let exit = ChildExit::of(evt)?;
        let id = exit.cell.get_id();
        let (key, child) = self
            .entries
            .iter_mut()
            .find(|(_, c)| c.cell.as_ref().is_some_and(|c| c.get_id() == id))?;
        child.cell = None;
        Some(Exited {
            key: key.clone(),
            failure: exit.failure,
        })
    }

    /// Counts and logs the restart of an exited child and says when to start it again.
    pub fn restart(&mut self, exited: &Exited<K>) -> RestartDecision {
        let now = Instant::now();
        let Some(child) = self.entries.get_mut(&exited.key) else {
            return RestartDecision {
                delay: self.policy.initial_backoff,
                over_budget: false,
            };
        };
        let decision = child.restarts.on_failure(&self.policy, now);
        child.over_budget = decision.over_budget;
        metrics::counter!(crate::telemetry::metric::ACTOR_RESTARTS_TOTAL, "kind" => self.kind)
            .increment(1);
        tracing::warn!(
            kind = self.kind,
            child = %exited.key,
            error = exited.failure.as_deref().unwrap_or("stopped"),
            restart_in = ?decision.delay,
            over_budget = decision.over_budget,
            "actor exited; restarting"
        );
        decision
    }

    /// Counts a child that could not start (its `pre_start` failed) as a failure, and
    /// says when to try again.
    pub fn failed_to_start(&mut self, key: K, error: &str) -> RestartDecision {
        self.entries.entry(key.clone()).or_insert_with(|| Child {
            cell: None,
            restarts: RestartTracker::default(),
            over_budget: false,
        });
        self.restart(&Exited {
            key,
            failure: Some(error.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::{Actor, ActorProcessingErr};

    struct Crashy;

    impl Actor for Crashy {
        type Msg = ();
        type State = ();
        type Arguments = ();

        async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
            Ok(())
        }

        async fn handle(
            &self,
            _: ActorRef<()>,
            _: (),
            _: &mut (),
        ) -> Result<(), ActorProcessingErr> {
            panic!("boom")
        }
    }

    struct Parent(tokio::sync::mpsc::UnboundedSender<SupervisionEvent>);

    impl Actor for Parent {
        type Msg = ();
        type State = ();
        type Arguments = ();

        async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
            Ok(())
        }

        async fn handle_supervisor_evt(
            &self,
            _: ActorRef<()>,
            evt: SupervisionEvent,
            _: &mut (),
        ) -> Result<(), ActorProcessingErr> {
            let _ = self.0.send(evt);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_panicking_child_is_found_and_restarted_with_backoff_and_a_stopped_one_is_not() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (parent, _) = Actor::spawn(None, Parent(tx), ()).await.unwrap();
        let policy = RestartPolicy {
            budget: 1,
            ..RestartPolicy::default()
        };
        let mut children: Children<String> = Children::new("test", policy);
        let spawn = || async {
            Actor::spawn_linked(None, Crashy, (), parent.get_cell())
                .await
                .unwrap()
                .0
        };
        let a = spawn().await;
        let b = spawn().await;
        children.started("a".to_string(), &a);
        children.started("b".to_string(), &b);

        a.cast(()).unwrap();
        let exited = loop {
            let evt = rx.recv().await.unwrap();
            if let Some(e) = children.exited(&evt) {
                break e;
            }
        };
        assert_eq!(exited.key, "a");
        assert!(exited.failure.as_deref().unwrap().contains("boom"));
        assert!(children.down(&"a".to_string()));
        assert!(
            children.get::<()>(&"b".to_string()).is_some(),
            "b keeps running"
        );
        let first = children.restart(&exited);
        assert_eq!(
            (first.delay, first.over_budget),
            (policy.initial_backoff, false)
        );
        let second = children.restart(&exited);
        assert!(second.over_budget);
        assert_eq!(
            children.over_budget_keys().into_iter().collect::<Vec<_>>(),
            vec!["a"],
            "b is within its budget"
        );

        // A child stopped on purpose is forgotten: its exit asks for no restart.
        children.stop(&"b".to_string(), "not wanted");
        let evt = loop {
            let evt = rx.recv().await.unwrap();
            if matches!(evt, SupervisionEvent::ActorTerminated(..)) {
                break evt;
            }
        };
        assert!(children.exited(&evt).is_none());
        parent.stop(None);
    }
}
