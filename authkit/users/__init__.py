"""Users: the MongoDB user store (the NestJS app's `users` collection, as it wrote it)."""
