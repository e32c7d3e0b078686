"""LinkedIn Posts API (versioned /rest): member and organization posts with images and videos."""
