"""Remote log stores (Loki, Elasticsearch/OpenSearch, ClickHouse), read with the query pushed down."""
