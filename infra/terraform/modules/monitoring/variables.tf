variable "prefix" {
  description = "The topology's project_prefix; log-based metric names start with it."
  type        = string
}

variable "dead_letter_topics" {
  description = "module.topology.dead_letter_topics: dead-letter topic -> {name, source_topic, inspection_subscription, message_retention}."
  type        = any
}

variable "function_names" {
  description = "The topology's functions; each gen2 function runs as the Cloud Run service of the same name."
  type        = list(string)
}
