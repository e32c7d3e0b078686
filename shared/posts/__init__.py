"""Posts: one per content item x target account; model, state machine, Firestore repository."""
