"""The ikasched agent: runs command jobs and fires time and file triggers on one host."""
