stage(@@BUILD_STAGE@@) {
    agent any
    environment {
        PIPELINE = @@PIPELINE@@
        OUTPUTS = @@OUTPUTS@@
    }
    steps {
        withCredentials([
            @@CREDENTIALS@@
            usernamePassword(credentialsId: 'registry-credentials', usernameVariable: 'REGISTRY_USER', passwordVariable: 'REGISTRY_PASSWORD'),
        ]) {
            sh '''
                set +x   # never trace the credentials below
                @@LOGIN@@
                @@KEY_SETUP@@
                # The vulnerability database in the agent's cache: refreshed here; the gate
                # (`db: managed`) fetches what it still lacks.
                cleanpipe db update --ecosystems installed
                cleanpipe run -f "$PIPELINE"
            '''
        }
    }
    post {
        always {
            junit allowEmptyResults: true, testResults: "${env.OUTPUTS}/junit.xml"
            archiveArtifacts allowEmptyArchive: true, artifacts: "${env.OUTPUTS}/**"
            stash name: @@STASH@@, includes: "${env.OUTPUTS}/cleanpipe.env", allowEmpty: true
        }
    }
}
stage(@@DEPLOY_STAGE@@) {
    // Manual approval, asked before an agent is taken.
    input {
        message 'Deploy the verified image?'
        ok 'Deploy'
    }
    agent any
    environment {
        OUTPUTS = @@OUTPUTS@@
    }
    steps {
        unstash @@STASH@@
        withCredentials([
            usernamePassword(credentialsId: 'registry-credentials', usernameVariable: 'REGISTRY_USER', passwordVariable: 'REGISTRY_PASSWORD'),
        ]) {
            sh '''
                set +x   # never trace the credentials below
                @@LOGIN@@
                image=$(grep '^CLEANPIPE_IMAGE=' "$OUTPUTS/cleanpipe.env" | cut -d '"' -f 2)
                verified=$(cleanpipe verify "$image" @@VERIFY@@ --commit "$GIT_COMMIT" --output digest)
                echo "deploying $verified"
                # Replace with your deploy, e.g. kubectl set image deployment/app app="$verified"
            '''
        }
    }
}
