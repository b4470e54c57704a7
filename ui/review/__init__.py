"""The RP mass review module: findings controller, side panel and plugin object (``plugin.ReviewModule``)."""
