"""The PKS web services: element verification, status check, look-up by NIK, face."""
