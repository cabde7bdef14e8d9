"""SMS through Twilio: signed webhooks in (``web``), the official client out (``outbound``)."""
