//! The controller's actor tree (ractor): a root supervisor, one actor per NodeENI with
//! one child per node attachment, the EC2 rate limiter and the cleanup pool. The actors
//! are thin shells that route messages and execute decisions made by pure functions.
