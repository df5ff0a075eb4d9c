from django.apps import AppConfig


class RpcConfig(AppConfig):
    name = "project.rpc"
    label = "gatehouse_rpc"
    verbose_name = "gRPC plumbing"
