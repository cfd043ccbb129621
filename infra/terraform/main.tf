# The district's own bucket and key: the district, not a vendor, holds both.
# Object Lock must be enabled when the bucket is created; the archiver refuses a bucket without it.

variable "bucket_name" { type = string }
variable "archiver_role_arn" { type = string }
variable "default_retention_days" {
  type    = number
  default = 365 # a floor only: the archiver sets each object's retain-until from the schedule
}

resource "aws_s3_bucket" "archive" {
  bucket              = var.bucket_name
  object_lock_enabled = true
}

resource "aws_s3_bucket_versioning" "archive" {
  bucket = aws_s3_bucket.archive.id
  versioning_configuration { status = "Enabled" }
}

resource "aws_s3_bucket_object_lock_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id
  rule {
    default_retention {
      mode = "GOVERNANCE"
      days = var.default_retention_days
    }
  }
}

resource "aws_s3_bucket_public_access_block" "archive" {
  bucket                  = aws_s3_bucket.archive.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_kms_key" "archive" {
  description             = "Wraps the data keys of the district social media archive"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_kms_alias" "archive" {
  name          = "alias/district-social-archive"
  target_key_id = aws_kms_key.archive.key_id
}

# What the archiver's role may do: write and read objects, set retention and legal holds,
# and use the key. It may not bypass governance retention or delete the bucket.
data "aws_iam_policy_document" "archiver" {
  statement {
    actions = ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket",
               "s3:ListBucketVersions", "s3:GetBucketVersioning", "s3:GetBucketObjectLockConfiguration",
               "s3:PutObjectRetention", "s3:GetObjectRetention", "s3:PutObjectLegalHold",
               "s3:GetObjectLegalHold", "s3:DeleteObject", "s3:DeleteObjectVersion"]
    resources = [aws_s3_bucket.archive.arn, "${aws_s3_bucket.archive.arn}/*"]
  }
  statement {
    effect    = "Deny"
    actions   = ["s3:BypassGovernanceRetention", "s3:DeleteBucket", "s3:PutBucketObjectLockConfiguration"]
    resources = [aws_s3_bucket.archive.arn, "${aws_s3_bucket.archive.arn}/*"]
  }
  statement {
    actions   = ["kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey"]
    resources = [aws_kms_key.archive.arn]
  }
}

output "archiver_policy_json" { value = data.aws_iam_policy_document.archiver.json }
output "store_url" { value = "s3://${aws_s3_bucket.archive.bucket}/warc" }
output "kms_key_id" { value = aws_kms_alias.archive.name }
