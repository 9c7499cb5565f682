"""Request models: each operator's parameters checked, and its request body built, in one place.

One pydantic model per request (:mod:`~airflow_provider_twelvelabs.requests.embed`,
:mod:`~airflow_provider_twelvelabs.requests.analyze`, ...). The field rules they share live in
:mod:`~airflow_provider_twelvelabs.requests.fields`. Models make no HTTP call and need no Airflow
context, so they can be tested on their own.
"""
