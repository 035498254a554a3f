"""One router module per area; gleaner_api.app includes them all."""
