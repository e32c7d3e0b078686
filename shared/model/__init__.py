"""The model layer: the records Postgate keeps and the rules that hold for them alone (content,
posts, their state machine and schedule, campaigns, metrics). Imports nothing above runtime."""
