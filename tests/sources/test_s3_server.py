"""The shared moto S3 server fixture answers on 127.0.0.1."""


def test_s3_server_round_trip(s3_server):
    bucket = s3_server.new_bucket()
    s3 = s3_server.client()
    s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"hello"
    assert s3_server.endpoint.startswith("http://127.0.0.1:")
