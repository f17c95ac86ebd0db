"""Background work for partners' webhooks: thin tasks that take ids (the broker is not encrypted).

The delivery row decides whether and when to try again (tenants/webhooks.py says which answers are
retried and how long it waits): it counts the attempts, so a delivery queued again by the sweep or from
the admin neither starts the backoff over nor gets more attempts than its round allows.
"""

from celery import shared_task

from tenants import services, webhooks


# max_retries only bounds a task whose row would not stop it: the service gives up after MAX_ATTEMPTS.
@shared_task(bind=True, max_retries=webhooks.MAX_ATTEMPTS)
def webhook_deliver(self, delivery_id: int) -> None:
    try:
        services.webhook_delivery_attempt(delivery_id=delivery_id)
    except services.WebhookNotDelivered as error:
        raise self.retry(exc=error, countdown=error.retry_in) from None


@shared_task
def webhook_deliveries_sweep() -> None:
    """Beat runs it every ten minutes: pending deliveries whose task was lost are queued again."""
    services.webhook_deliveries_requeue_stalled()
