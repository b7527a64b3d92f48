"""Ground floor: settings, errors, time and id helpers. No domain knowledge lives here."""
