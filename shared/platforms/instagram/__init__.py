"""Instagram Graph API content publishing: client, validation and adapter."""
