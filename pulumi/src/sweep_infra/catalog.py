"""The Glue catalog (tables `points` and `outcomes` over the storage layout, with partition
projection) and the Athena workgroup that queries it. The columns come from
`sweep_contracts.schema`, the same lists the Parquet writers use."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from sweep_contracts.schema import OUTCOMES_TABLE, POINTS_TABLE, Table

PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
ENGINE_VERSION = "Athena engine version 3"


def projection(table: Table, location: str) -> dict[str, str]:
    """Table parameters: `run_id` is injected (every query must name it), `status` an enum, and
    the template maps them to the layout's keys; no crawler, no partitions to add."""
    parameters = {
        "classification": "parquet",
        "EXTERNAL": "TRUE",
        "projection.enabled": "true",
        "projection.run_id.type": "injected",
    }
    template = f"{location}run_id=${{run_id}}/"
    if "status" in table.partition_keys:
        parameters["projection.status.type"] = "enum"
        parameters["projection.status.values"] = "success,failure"
        template += "status=${status}/"
    parameters["storage.location.template"] = template
    return parameters


@dataclass(frozen=True)
class ResultsCatalogArgs:
    database: str
    workgroup: str
    bucket: pulumi.Input[str]
    bytes_scanned_cutoff: int
    tags: dict[str, str]
    force_destroy: bool = False
    kms_key_arn: pulumi.Input[str] | None = None
    """The results bucket's key (`sweep:encryption: kms`): query results are written with it too."""


class ResultsCatalog(pulumi.ComponentResource):
    def __init__(self, name: str, args: ResultsCatalogArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sweep:catalog:ResultsCatalog", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.database = aws.glue.CatalogDatabase(
            f"{name}-database",
            name=args.database,
            description="sweep results: points and shard outcomes, Parquet on S3",
            opts=child,
        )
        self.tables = {
            table.name: self._table(name, table, args.bucket, child) for table in (POINTS_TABLE, OUTCOMES_TABLE)
        }
        self.workgroup = aws.athena.Workgroup(
            f"{name}-workgroup",
            name=args.workgroup,
            force_destroy=args.force_destroy,
            configuration=aws.athena.WorkgroupConfigurationArgs(
                enforce_workgroup_configuration=True,
                publish_cloudwatch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=args.bytes_scanned_cutoff,
                engine_version=aws.athena.WorkgroupConfigurationEngineVersionArgs(
                    selected_engine_version=ENGINE_VERSION
                ),
                result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                    output_location=pulumi.Output.concat("s3://", args.bucket, "/athena/"),
                    encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                        encryption_option="SSE_KMS", kms_key_arn=args.kms_key_arn
                    )
                    if args.kms_key_arn is not None
                    else aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
            tags=args.tags,
            opts=child,
        )
        self.register_outputs({"database": self.database.name, "workgroup": self.workgroup.name})

    def _table(
        self, name: str, table: Table, bucket: pulumi.Input[str], opts: pulumi.ResourceOptions
    ) -> aws.glue.CatalogTable:
        location = pulumi.Output.concat("s3://", bucket, f"/{table.name}/")
        return aws.glue.CatalogTable(
            f"{name}-{table.name}",
            name=table.name,
            database_name=self.database.name,
            table_type="EXTERNAL_TABLE",
            description=f"sweep `{table.name}`: one row per {'point' if table is POINTS_TABLE else 'shard'}",
            parameters=location.apply(lambda loc: projection(table, loc)),
            partition_keys=[
                aws.glue.CatalogTablePartitionKeyArgs(name=key, type="string") for key in table.partition_keys
            ],
            storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
                location=location,
                input_format=PARQUET_INPUT,
                output_format=PARQUET_OUTPUT,
                ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                    serialization_library=PARQUET_SERDE, parameters={"serialization.format": "1"}
                ),
                columns=[
                    aws.glue.CatalogTableStorageDescriptorColumnArgs(name=c.name, type=c.glue_type, comment=c.comment)
                    for c in table.glue_columns()
                ],
            ),
            opts=opts,
        )
