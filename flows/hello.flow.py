from metaflow import current, step

from flowproject import BaseFlow


class HelloFlow(BaseFlow):
    """Prints what BaseFlow gives every flow: project, branch and test mode."""

    @step
    def start(self):
        """Record the project namespace this run belongs to."""
        self.project = current.project_name
        self.branch = current.branch_name
        print("project=%s branch=%s test_mode=%s" % (self.project, self.branch, self.test_mode))
        self.next(self.end)

    @step
    def end(self):
        """Nothing to clean up."""


if __name__ == "__main__":
    HelloFlow()
