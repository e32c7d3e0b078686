"""Postgate's shared package: domain, stores and platform clients imported by every function."""
