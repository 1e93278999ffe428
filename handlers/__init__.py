"""The WeChat conversation only: a router that dispatches each message to a short handler per topic,
which calls the domain's services and answers in the wording of `services.texts`."""
