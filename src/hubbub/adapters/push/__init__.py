"""Push providers, one per subscription kind (webpush here; apns and fcm plug in the same
way), and the resolver that keeps them off private addresses."""
