"""The stores layer: where the model is kept (Firestore posts and content, the live-status
stream's feed, the media bucket). Imports only runtime and model."""
