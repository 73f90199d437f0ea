"""Dataset acquisition: a Selenium image scraper that fills `DATA/<class>/` folders."""
